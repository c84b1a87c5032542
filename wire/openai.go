package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Object names used in the "object" field of OpenAI responses.
const (
	ObjectList                = "list"
	ObjectModel               = "model"
	ObjectTextCompletion      = "text_completion"
	ObjectChatCompletion      = "chat.completion"
	ObjectChatCompletionChunk = "chat.completion.chunk"
)

// Finish reasons reported in choices.
const (
	// FinishStop means the model emitted end-of-sequence or a stop string matched.
	FinishStop = "stop"
	// FinishLength means max_tokens or the model's context length was reached.
	FinishLength = "length"
)

// StreamDone is the payload of the last server-sent event of a stream
// ("data: [DONE]").
const StreamDone = "[DONE]"

// StringList is a JSON value that is either a string or an array of strings
// (OpenAI's "prompt" and "stop"). A lone string decodes to a one-element list;
// null decodes to nil.
type StringList []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (s *StringList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*s = nil
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = StringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("want a string or an array of strings: %w", err)
	}
	*s = many
	return nil
}

// StreamOptions are the options of a streamed response.
type StreamOptions struct {
	// IncludeUsage adds a last chunk, before [DONE], that carries Usage and no choices.
	IncludeUsage bool `json:"include_usage,omitempty"`
}

// CompletionRequest is the body of POST /v1/completions.
type CompletionRequest struct {
	Model string `json:"model"`
	// Prompt is a string or an array holding one string. Token arrays are not supported.
	Prompt PromptValue `json:"prompt"`
	// MaxTokens bounds the generated tokens; OpenAI's default is 16.
	MaxTokens     *int           `json:"max_tokens,omitempty"`
	Temperature   *float64       `json:"temperature,omitempty"`
	TopP          *float64       `json:"top_p,omitempty"`
	N             *int           `json:"n,omitempty"`
	Seed          *int64         `json:"seed,omitempty"`
	Stop          StringList     `json:"stop,omitempty"`
	Stream        bool           `json:"stream,omitempty"`
	StreamOptions *StreamOptions `json:"stream_options,omitempty"`
	User          string         `json:"user,omitempty"`
}

// PromptValue is OpenAI's "prompt": a string, an array of strings, or (not
// supported here, but decoded so the error can say so) token ids.
type PromptValue struct {
	// Texts holds the prompt strings; a lone string gives one element.
	Texts []string
	// Tokens is true when the prompt was given as token ids.
	Tokens bool
	// Set is true when the field was present and not null.
	Set bool
}

// UnmarshalJSON accepts a string, an array of strings, an array of integers,
// an array of integer arrays, or null.
func (p *PromptValue) UnmarshalJSON(b []byte) error {
	*p = PromptValue{}
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var l StringList
	if err := json.Unmarshal(b, &l); err == nil {
		*p = PromptValue{Texts: l, Set: true}
		return nil
	}
	var toks []json.RawMessage
	if err := json.Unmarshal(b, &toks); err != nil {
		return fmt.Errorf("prompt: want a string or an array of strings")
	}
	*p = PromptValue{Tokens: true, Set: true}
	return nil
}

// MarshalJSON writes a single prompt as a string and several as an array.
func (p PromptValue) MarshalJSON() ([]byte, error) {
	if len(p.Texts) == 1 {
		return json.Marshal(p.Texts[0])
	}
	return json.Marshal(p.Texts)
}

// Usage counts tokens.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// CompletionChoice is one choice of a completion or completion chunk.
type CompletionChoice struct {
	Text  string `json:"text"`
	Index int    `json:"index"`
	// Logprobs is always null: log-probabilities are not reported.
	Logprobs *struct{} `json:"logprobs"`
	// FinishReason is null in stream chunks until the last one.
	FinishReason *string `json:"finish_reason"`
}

// CompletionResponse is the body of a non-streamed completion, and also the
// shape of each streamed completion chunk (Usage is then nil except in the
// usage chunk).
type CompletionResponse struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []CompletionChoice `json:"choices"`
	Usage   *Usage             `json:"usage,omitempty"`
}

// ChatMessage is one message of a chat.
type ChatMessage struct {
	Role string `json:"role"`
	// Content is the message text. In requests it may also be an array of
	// content parts; only "text" parts are accepted.
	Content MessageContent `json:"content"`
	Name    string         `json:"name,omitempty"`
}

// MessageContent is a chat message's content: a string, or an array of
// content parts of which the text parts are concatenated.
type MessageContent struct {
	// Text is the message text.
	Text string
	// NonText is true when the content held parts other than text (images, audio).
	NonText bool
}

type contentPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// UnmarshalJSON accepts a string, an array of content parts, or null.
func (c *MessageContent) UnmarshalJSON(b []byte) error {
	*c = MessageContent{}
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &c.Text)
	}
	var parts []contentPart
	if err := json.Unmarshal(b, &parts); err != nil {
		return fmt.Errorf("content: want a string or an array of content parts")
	}
	for _, p := range parts {
		if p.Type != "text" {
			c.NonText = true
			continue
		}
		c.Text += p.Text
	}
	return nil
}

// MarshalJSON writes the content as a string.
func (c MessageContent) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.Text)
}

// ChatCompletionRequest is the body of POST /v1/chat/completions.
type ChatCompletionRequest struct {
	Model    string        `json:"model"`
	Messages []ChatMessage `json:"messages"`
	// MaxCompletionTokens is the newer name of MaxTokens; it wins when both are set.
	MaxCompletionTokens *int           `json:"max_completion_tokens,omitempty"`
	MaxTokens           *int           `json:"max_tokens,omitempty"`
	Temperature         *float64       `json:"temperature,omitempty"`
	TopP                *float64       `json:"top_p,omitempty"`
	N                   *int           `json:"n,omitempty"`
	Seed                *int64         `json:"seed,omitempty"`
	Stop                StringList     `json:"stop,omitempty"`
	Stream              bool           `json:"stream,omitempty"`
	StreamOptions       *StreamOptions `json:"stream_options,omitempty"`
	User                string         `json:"user,omitempty"`
}

// ChatChoice is one choice of a chat completion.
type ChatChoice struct {
	Index        int         `json:"index"`
	Message      ChatMessage `json:"message"`
	Logprobs     *struct{}   `json:"logprobs"`
	FinishReason string      `json:"finish_reason"`
}

// ChatCompletionResponse is the body of a non-streamed chat completion.
type ChatCompletionResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []ChatChoice `json:"choices"`
	Usage   Usage        `json:"usage"`
}

// ChatDelta is the incremental message of a chat chunk.
type ChatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

// ChatChunkChoice is one choice of a chat completion chunk.
type ChatChunkChoice struct {
	Index        int       `json:"index"`
	Delta        ChatDelta `json:"delta"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

// ChatCompletionChunk is one streamed event of a chat completion.
type ChatCompletionChunk struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []ChatChunkChoice `json:"choices"`
	Usage   *Usage            `json:"usage,omitempty"`
}

// Model describes one served model in GET /v1/models.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// ModelList is the body of GET /v1/models.
type ModelList struct {
	Object string  `json:"object"`
	Data   []Model `json:"data"`
}
