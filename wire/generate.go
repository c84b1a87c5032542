package wire

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// GenerateRequest is what the gateway's service runs: one prompt, already
// rendered as text, with validated limits and sampling parameters.
type GenerateRequest struct {
	// Model is the model id the request names.
	Model string
	// Prompt is the text to continue (may be empty: generation then starts
	// from the beginning-of-sequence token alone).
	Prompt string
	// MaxTokens bounds the generated tokens; always > 0.
	MaxTokens int
	// Temperature scales the logits; 0 means greedy decoding. In [0, 2].
	Temperature float32
	// TopP is the nucleus mass in (0, 1]; 1 samples from the whole distribution.
	TopP float32
	// Seed seeds the sampler; nil lets the service choose one.
	Seed *uint64
	// Stop lists strings that end generation; the matched string is not returned.
	Stop []string
	// Stream asks for the text piece by piece.
	Stream bool
	// IncludeUsage asks a stream to end with a usage chunk.
	IncludeUsage bool
}

// GenerateResult is the outcome of a GenerateRequest.
type GenerateResult struct {
	// Text is the generated text, without any matched stop string.
	Text string
	// FinishReason is FinishStop or FinishLength.
	FinishReason string
	// PromptTokens counts the prompt's tokens (including the BOS token).
	PromptTokens int
	// CompletionTokens counts the sampled tokens (including a final EOS).
	CompletionTokens int
}

// Usage returns the token counts of r.
func (r GenerateResult) Usage() Usage {
	return Usage{PromptTokens: r.PromptTokens, CompletionTokens: r.CompletionTokens,
		TotalTokens: r.PromptTokens + r.CompletionTokens}
}

// Limits are the gateway's bounds and defaults for translating requests.
type Limits struct {
	// DefaultMaxTokens is used when a completion request has no max_tokens
	// (OpenAI uses 16). Must be > 0.
	DefaultMaxTokens int
	// DefaultChatMaxTokens is used when a chat request has no max_tokens. Must be > 0.
	DefaultChatMaxTokens int
	// MaxTokens is the largest max_tokens accepted; 0 means no bound here
	// (the model's context length still ends generation).
	MaxTokens int
	// MaxPromptBytes bounds the rendered prompt, in bytes; 0 means no bound.
	MaxPromptBytes int
}

// Validate reports whether l is usable.
func (l Limits) Validate() error {
	if l.DefaultMaxTokens <= 0 || l.DefaultChatMaxTokens <= 0 {
		return fmt.Errorf("wire: limits: default max tokens %d and %d must be > 0", l.DefaultMaxTokens, l.DefaultChatMaxTokens)
	}
	if l.MaxTokens < 0 || l.MaxPromptBytes < 0 {
		return fmt.Errorf("wire: limits: MaxTokens %d and MaxPromptBytes %d must be >= 0", l.MaxTokens, l.MaxPromptBytes)
	}
	return nil
}

// DefaultLimits are OpenAI's defaults: 16 tokens for completions, 256 for
// chat (OpenAI lets chat run to the context length; the model's context
// still ends generation earlier when it is shorter).
var DefaultLimits = Limits{DefaultMaxTokens: 16, DefaultChatMaxTokens: 256}

// MaxStop is the largest number of stop strings a request may give (OpenAI's bound).
const MaxStop = 4

// ChatTurnStop is the stop string FromChat adds so that generation ends when
// the model starts writing the user's next turn.
const ChatTurnStop = "\nUser:"

// FromCompletion validates r and translates it into a GenerateRequest.
// The error, if any, is an *Error with status 400.
func FromCompletion(r CompletionRequest, lim Limits) (GenerateRequest, error) {
	if err := checkModel(r.Model); err != nil {
		return GenerateRequest{}, err
	}
	if r.Prompt.Tokens {
		return GenerateRequest{}, BadRequest("prompt", CodeUnsupported, "token-id prompts are not supported; send the prompt as a string")
	}
	if len(r.Prompt.Texts) > 1 {
		return GenerateRequest{}, BadRequest("prompt", CodeUnsupported, "only one prompt per request is supported, got %d", len(r.Prompt.Texts))
	}
	g := GenerateRequest{Model: r.Model, Stream: r.Stream}
	if len(r.Prompt.Texts) == 1 {
		g.Prompt = r.Prompt.Texts[0]
	}
	err := fillCommon(&g, common{r.MaxTokens, "max_tokens", r.Temperature, r.TopP, r.N, r.Seed, r.Stop, r.StreamOptions},
		lim.DefaultMaxTokens, lim)
	return g, err
}

// FromChat validates r, renders its messages with the package's chat
// template, and translates it into a GenerateRequest whose Stop also holds
// ChatTurnStop. The error, if any, is an *Error with status 400.
func FromChat(r ChatCompletionRequest, lim Limits) (GenerateRequest, error) {
	if err := checkModel(r.Model); err != nil {
		return GenerateRequest{}, err
	}
	prompt, err := RenderChat(r.Messages)
	if err != nil {
		return GenerateRequest{}, err
	}
	g := GenerateRequest{Model: r.Model, Prompt: prompt, Stream: r.Stream}
	maxTok, maxName := r.MaxTokens, "max_tokens"
	if r.MaxCompletionTokens != nil {
		maxTok, maxName = r.MaxCompletionTokens, "max_completion_tokens"
	}
	err = fillCommon(&g, common{maxTok, maxName, r.Temperature, r.TopP, r.N, r.Seed, r.Stop, r.StreamOptions},
		lim.DefaultChatMaxTokens, lim)
	if err != nil {
		return GenerateRequest{}, err
	}
	g.Stop = append(g.Stop, ChatTurnStop)
	return g, nil
}

// RenderChat renders messages with the chat template described in the
// package documentation. Roles are system, developer, user, assistant and tool.
func RenderChat(msgs []ChatMessage) (string, error) {
	if len(msgs) == 0 {
		return "", BadRequest("messages", CodeMissing, "messages must hold at least one message")
	}
	var b strings.Builder
	for i, m := range msgs {
		role, ok := chatRoles[m.Role]
		if !ok {
			return "", BadRequest("messages", CodeInvalidValue,
				"messages[%d].role %q is not one of system, developer, user, assistant, tool", i, m.Role)
		}
		if m.Content.NonText {
			return "", BadRequest("messages", CodeUnsupported,
				"messages[%d].content holds non-text parts; only text is supported", i)
		}
		b.WriteString(role)
		b.WriteString(": ")
		b.WriteString(m.Content.Text)
		b.WriteByte('\n')
	}
	b.WriteString("Assistant:")
	return b.String(), nil
}

var chatRoles = map[string]string{
	"system": "System", "developer": "System", "user": "User", "assistant": "Assistant", "tool": "Tool",
}

func checkModel(m string) error {
	if m == "" {
		return BadRequest("model", CodeMissing, "model is required; GET /v1/models lists the served models")
	}
	return nil
}

// common holds the request fields completions and chat share.
type common struct {
	maxTokens   *int
	maxName     string
	temperature *float64
	topP        *float64
	n           *int
	seed        *int64
	stop        StringList
	streamOpts  *StreamOptions
}

func fillCommon(g *GenerateRequest, c common, defMax int, lim Limits) error {
	if err := fillMaxTokens(g, c.maxTokens, c.maxName, defMax, lim); err != nil {
		return err
	}
	if err := fillSampling(g, c.temperature, c.topP); err != nil {
		return err
	}
	if c.n != nil && *c.n != 1 {
		return BadRequest("n", CodeUnsupported, "n must be 1 (one choice per request), got %d", *c.n)
	}
	if c.seed != nil {
		s := uint64(*c.seed)
		g.Seed = &s
	}
	if err := fillStop(g, c.stop); err != nil {
		return err
	}
	if c.streamOpts != nil {
		if !g.Stream {
			return BadRequest("stream_options", CodeInvalidValue, "stream_options is only allowed when stream is true")
		}
		g.IncludeUsage = c.streamOpts.IncludeUsage
	}
	if lim.MaxPromptBytes > 0 && len(g.Prompt) > lim.MaxPromptBytes {
		return BadRequest("prompt", CodeInvalidValue, "the prompt is %d bytes; at most %d are accepted", len(g.Prompt), lim.MaxPromptBytes)
	}
	if !utf8.ValidString(g.Prompt) {
		return BadRequest("prompt", CodeInvalidValue, "the prompt is not valid UTF-8")
	}
	return nil
}

func fillMaxTokens(g *GenerateRequest, mt *int, name string, defMax int, lim Limits) error {
	g.MaxTokens = defMax
	if mt == nil {
		if lim.MaxTokens > 0 && g.MaxTokens > lim.MaxTokens {
			g.MaxTokens = lim.MaxTokens
		}
		return nil
	}
	if *mt <= 0 {
		return BadRequest(name, CodeInvalidValue, "%s must be at least 1, got %d", name, *mt)
	}
	if lim.MaxTokens > 0 && *mt > lim.MaxTokens {
		return BadRequest(name, CodeInvalidValue, "%s must be at most %d, got %d", name, lim.MaxTokens, *mt)
	}
	g.MaxTokens = *mt
	return nil
}

// fillSampling applies OpenAI's ranges: temperature in [0, 2] (default 1),
// top_p in [0, 1] (default 1). top_p 0 keeps only the most likely token, so
// it is translated to greedy decoding.
func fillSampling(g *GenerateRequest, temp, topP *float64) error {
	g.Temperature, g.TopP = 1, 1
	if temp != nil {
		t := *temp
		if math.IsNaN(t) || t < 0 || t > 2 {
			return BadRequest("temperature", CodeInvalidValue, "temperature must be between 0 and 2, got %v", t)
		}
		g.Temperature = float32(t)
	}
	if topP != nil {
		p := *topP
		if math.IsNaN(p) || p < 0 || p > 1 {
			return BadRequest("top_p", CodeInvalidValue, "top_p must be between 0 and 1, got %v", p)
		}
		g.TopP = float32(p)
		if p == 0 {
			g.Temperature, g.TopP = 0, 1
		}
	}
	return nil
}

func fillStop(g *GenerateRequest, stop StringList) error {
	if len(stop) > MaxStop {
		return BadRequest("stop", CodeInvalidValue, "at most %d stop strings are allowed, got %d", MaxStop, len(stop))
	}
	for _, s := range stop {
		if s != "" {
			g.Stop = append(g.Stop, s)
		}
	}
	return nil
}
