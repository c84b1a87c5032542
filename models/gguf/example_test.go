package gguf_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/splitup/splitup/models/gguf"
)

// A GGUF file is written in three steps (metadata and tensor infos, header,
// data) and read back from any io.ReaderAt.
func ExampleWriter() {
	var buf bytes.Buffer
	w := gguf.NewWriter(&buf)
	w.AddMetadata("general.architecture", gguf.String("llama"))
	w.AddMetadata("llama.block_count", gguf.Uint32(1))
	w.AddTensor("output_norm.weight", gguf.GGMLF32, []uint64{2})
	w.WriteHeader()
	data := binary.LittleEndian.AppendUint32(nil, math.Float32bits(1))
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(0.5))
	w.WriteTensor("output_norm.weight", data)
	if err := w.Close(); err != nil {
		panic(err)
	}

	f, err := gguf.Read(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		panic(err)
	}
	arch, _ := f.GetString("general.architecture")
	layers, _ := f.GetUint("llama.block_count")
	t, _ := f.Tensor("output_norm.weight")
	dt, _ := t.DType()
	fmt.Println(f.Version, arch, layers, t.Name, t.Dims, dt, f.DataOffset%f.Alignment)
	// Output: 3 llama 1 output_norm.weight [2] f32 0
}
