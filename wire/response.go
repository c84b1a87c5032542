package wire

// Meta identifies one response: the same values appear in every chunk of a stream.
type Meta struct {
	// ID is the response id ("cmpl-…" or "chatcmpl-…").
	ID string
	// Created is the creation time in Unix seconds.
	Created int64
	// Model is the model id.
	Model string
}

func strPtr(s string) *string { return &s }

// ToCompletion builds the body of a non-streamed completion.
func ToCompletion(m Meta, r GenerateResult) CompletionResponse {
	u := r.Usage()
	return CompletionResponse{
		ID: m.ID, Object: ObjectTextCompletion, Created: m.Created, Model: m.Model,
		Choices: []CompletionChoice{{Text: r.Text, FinishReason: strPtr(r.FinishReason)}},
		Usage:   &u,
	}
}

// CompletionChunk builds one streamed completion event carrying text.
// finish is empty for every chunk but the last.
func CompletionChunk(m Meta, text, finish string) CompletionResponse {
	c := CompletionChoice{Text: text}
	if finish != "" {
		c.FinishReason = strPtr(finish)
	}
	return CompletionResponse{ID: m.ID, Object: ObjectTextCompletion, Created: m.Created, Model: m.Model,
		Choices: []CompletionChoice{c}}
}

// CompletionUsageChunk builds the usage event sent before [DONE] when
// stream_options.include_usage is set: no choices, only usage.
func CompletionUsageChunk(m Meta, r GenerateResult) CompletionResponse {
	u := r.Usage()
	return CompletionResponse{ID: m.ID, Object: ObjectTextCompletion, Created: m.Created, Model: m.Model,
		Choices: []CompletionChoice{}, Usage: &u}
}

// ToChatCompletion builds the body of a non-streamed chat completion.
func ToChatCompletion(m Meta, r GenerateResult) ChatCompletionResponse {
	return ChatCompletionResponse{
		ID: m.ID, Object: ObjectChatCompletion, Created: m.Created, Model: m.Model,
		Choices: []ChatChoice{{
			Message:      ChatMessage{Role: "assistant", Content: MessageContent{Text: r.Text}},
			FinishReason: r.FinishReason,
		}},
		Usage: r.Usage(),
	}
}

// ChatRoleChunk builds the first event of a chat stream: the assistant role
// with empty content.
func ChatRoleChunk(m Meta) ChatCompletionChunk {
	return ChatCompletionChunk{ID: m.ID, Object: ObjectChatCompletionChunk, Created: m.Created, Model: m.Model,
		Choices: []ChatChunkChoice{{Delta: ChatDelta{Role: "assistant", Content: strPtr("")}}}}
}

// ChatChunk builds one streamed chat event. A non-empty finish makes it the
// last chunk (its delta is then empty when text is empty).
func ChatChunk(m Meta, text, finish string) ChatCompletionChunk {
	c := ChatChunkChoice{}
	if text != "" || finish == "" {
		c.Delta.Content = strPtr(text)
	}
	if finish != "" {
		c.FinishReason = strPtr(finish)
	}
	return ChatCompletionChunk{ID: m.ID, Object: ObjectChatCompletionChunk, Created: m.Created, Model: m.Model,
		Choices: []ChatChunkChoice{c}}
}

// ChatUsageChunk builds the usage event sent before [DONE] when
// stream_options.include_usage is set.
func ChatUsageChunk(m Meta, r GenerateResult) ChatCompletionChunk {
	u := r.Usage()
	return ChatCompletionChunk{ID: m.ID, Object: ObjectChatCompletionChunk, Created: m.Created, Model: m.Model,
		Choices: []ChatChunkChoice{}, Usage: &u}
}

// ToModelList builds the body of GET /v1/models.
func ToModelList(models []Model) ModelList {
	out := ModelList{Object: ObjectList, Data: make([]Model, len(models))}
	for i, m := range models {
		m.Object = ObjectModel
		out.Data[i] = m
	}
	return out
}
