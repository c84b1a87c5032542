// Package gguf reads and writes GGUF model files, the container format of
// ggml and llama.cpp.
//
// A GGUF file is a header (magic "GGUF", version, counts), an ordered list of
// typed metadata key/value pairs, a list of tensor infos (name, dimensions
// fastest-varying first, ggml type, offset) and an aligned data section.
// Versions 1, 2 and 3 are read; version 1 uses 32-bit counts, string and
// array lengths and dimensions where versions 2 and 3 use 64-bit ones.
// The Writer produces version 3.
//
// Reading a file:
//
//  1. Open (a path) or Read (an io.ReaderAt and its size) parses and checks
//     the header, metadata and tensor infos. Every count and length is
//     checked against the bytes left in the file and against hard caps
//     before anything is allocated, so a hostile header fails fast.
//  2. Metadata lists the key/value pairs in file order; the typed getters
//     (GetString, GetUint, GetFloat32, GetArray, ...) look keys up.
//  3. Tensors lists the tensor infos; TensorInfo.DType maps the ggml type to
//     an ir.DType; File.TensorData reads one tensor's bytes.
//  4. Close releases the file opened by Open.
//
// Writing a file:
//
//  1. NewWriter, then AddMetadata for each key/value pair in order and
//     AddTensor for each tensor in order.
//  2. WriteHeader writes the header, metadata and tensor infos.
//  3. WriteTensor writes each tensor's bytes, in the order they were added;
//     the Writer inserts the alignment padding.
//  4. Close checks that every tensor was written.
package gguf
