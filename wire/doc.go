// Package wire holds the types that travel between SplitUp's users and its
// gateway: the OpenAI-compatible request and response bodies (completions,
// chat completions, model lists, streaming chunks, errors) and the internal
// GenerateRequest / GenerateResult the gateway's service works with. The CLIs,
// the gateway and the console all use these types; nothing else defines them.
//
// OpenAI compatibility is a pair of pure translations:
//
//  1. FromCompletion and FromChat validate an OpenAI request and turn it into
//     a GenerateRequest (prompt text, limits, sampling parameters, stop
//     strings). They return *Error values that carry the HTTP status and the
//     OpenAI error fields.
//  2. The service produces a GenerateResult (or, when streaming, pieces of
//     text followed by a final GenerateResult).
//  3. ToCompletion, ToChatCompletion, CompletionChunk and ChatChunk turn those
//     back into OpenAI response bodies.
//
// Unknown JSON fields are ignored, as OpenAI's API does. Fields the gateway
// cannot honour in a way a client would notice (n > 1, token-array prompts)
// are rejected with a 400 error rather than silently ignored.
//
// # Chat template
//
// The small models SplitUp serves have no chat template of their own, so
// FromChat renders messages as plain text, one line per message:
//
//	System: <content>
//	User: <content>
//	Assistant: <content>
//	Assistant:
//
// Each message becomes "<Role>: <content>\n" where Role is the message role
// with its first letter upper-cased ("developer" is rendered as "System");
// the prompt ends with "Assistant:" and the model continues from there.
// Generation also stops at "\nUser:" (ChatTurnStop), so a model that starts
// writing the user's next turn is cut off before it.
package wire
