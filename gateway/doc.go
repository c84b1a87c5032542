// Package gateway is SplitUp's OpenAI-compatible HTTP front end.
//
// It serves GET /v1/models, GET /v1/models/{id}, POST /v1/completions and POST
// /v1/chat/completions (streamed as server-sent events or not). Requests and
// responses are the types of package wire; the HTTP handlers only decode a
// request, call the Service, and encode its answer.
//
// The Service does the work of one generation:
//
//  1. Translate the OpenAI request into a wire.GenerateRequest (validation).
//  2. Look up the model, encode the prompt with the model's Tokenizer (with a
//     beginning-of-sequence token), and check it fits the context.
//  3. Open an engine Session and run the prompt in one prefill Forward call.
//  4. Repeatedly sample the next token from the logits (package sample),
//     decode it to text, and Forward it, until end-of-sequence (EOS or BOS),
//     max_tokens, the context length, or a stop string ends generation.
//     Text that could be the start of a stop string, or an incomplete UTF-8
//     sequence, is held back until it is known to be output, so streamed and
//     non-streamed responses carry exactly the same text.
//  5. Close the Session and report token usage.
//
// The Service keeps each generation's token history. If the engine reports
// ErrSessionLost (for instance a node holding part of the KV cache went
// away), the Service opens a new Session and rebuilds its state with one
// prefill over the history, then continues; the output is the same as an
// uninterrupted run.
//
// Engines (one loaded model, run in process or spread over nodes) implement
// Engine and Session; tokenizers implement Tokenizer. Errors wrapping
// ErrUnavailable become HTTP 503, other engine errors 500, and an expired
// request deadline 504.
package gateway
