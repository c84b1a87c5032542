package wire

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func decodeCompletion(t *testing.T, body string) CompletionRequest {
	t.Helper()
	var r CompletionRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	return r
}

func u64(v uint64) *uint64 { return &v }

func TestFromCompletion(t *testing.T) {
	lim := Limits{DefaultMaxTokens: 16, DefaultChatMaxTokens: 64, MaxTokens: 1000}
	tests := []struct {
		name string
		body string
		want GenerateRequest
	}{
		{"defaults", `{"model":"m","prompt":"Once"}`,
			GenerateRequest{Model: "m", Prompt: "Once", MaxTokens: 16, Temperature: 1, TopP: 1}},
		{"all fields", `{"model":"m","prompt":["Hi"],"max_tokens":5,"temperature":0,"top_p":0.9,"seed":-1,
			"stop":["a","","b"],"stream":true,"stream_options":{"include_usage":true},"n":1}`,
			GenerateRequest{Model: "m", Prompt: "Hi", MaxTokens: 5, Temperature: 0, TopP: 0.9, Seed: u64(^uint64(0)),
				Stop: []string{"a", "b"}, Stream: true, IncludeUsage: true}},
		{"stop string", `{"model":"m","prompt":"x","stop":"."}`,
			GenerateRequest{Model: "m", Prompt: "x", MaxTokens: 16, Temperature: 1, TopP: 1, Stop: []string{"."}}},
		{"no prompt", `{"model":"m"}`,
			GenerateRequest{Model: "m", MaxTokens: 16, Temperature: 1, TopP: 1}},
		{"null prompt", `{"model":"m","prompt":null,"stop":null}`,
			GenerateRequest{Model: "m", MaxTokens: 16, Temperature: 1, TopP: 1}},
		{"top_p 0 is greedy", `{"model":"m","prompt":"x","top_p":0,"temperature":1.5}`,
			GenerateRequest{Model: "m", Prompt: "x", MaxTokens: 16, Temperature: 0, TopP: 1}},
		{"unknown fields tolerated", `{"model":"m","prompt":"x","logit_bias":{"1":2},"frobnicate":[1,{"a":null}],"user":"u"}`,
			GenerateRequest{Model: "m", Prompt: "x", MaxTokens: 16, Temperature: 1, TopP: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromCompletion(decodeCompletion(t, tt.body), lim)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestFromCompletionErrors(t *testing.T) {
	lim := Limits{DefaultMaxTokens: 16, MaxTokens: 100, MaxPromptBytes: 10}
	tests := []struct{ name, body, param string }{
		{"no model", `{"prompt":"x"}`, "model"},
		{"max_tokens 0", `{"model":"m","max_tokens":0}`, "max_tokens"},
		{"max_tokens negative", `{"model":"m","max_tokens":-3}`, "max_tokens"},
		{"max_tokens too big", `{"model":"m","max_tokens":101}`, "max_tokens"},
		{"temperature negative", `{"model":"m","temperature":-0.1}`, "temperature"},
		{"temperature too hot", `{"model":"m","temperature":2.5}`, "temperature"},
		{"top_p above 1", `{"model":"m","top_p":1.01}`, "top_p"},
		{"top_p negative", `{"model":"m","top_p":-1}`, "top_p"},
		{"n 2", `{"model":"m","n":2}`, "n"},
		{"token prompt", `{"model":"m","prompt":[1,2,3]}`, "prompt"},
		{"two prompts", `{"model":"m","prompt":["a","b"]}`, "prompt"},
		{"five stops", `{"model":"m","stop":["a","b","c","d","e"]}`, "stop"},
		{"stream_options without stream", `{"model":"m","stream_options":{"include_usage":true}}`, "stream_options"},
		{"prompt too long", `{"model":"m","prompt":"01234567890"}`, "prompt"},
		{"prompt not utf8", `{"model":"m"}`, "prompt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r CompletionRequest
			if err := json.Unmarshal([]byte(tt.body), &r); err != nil {
				t.Fatal(err)
			}
			if tt.name == "prompt not utf8" { // encoding/json would replace the byte
				r.Prompt = PromptValue{Texts: []string{"\xff"}, Set: true}
			}
			_, err := FromCompletion(r, lim)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not a *wire.Error", err)
			}
			if e.Status != http.StatusBadRequest || e.Type != TypeInvalidRequest || e.Param != tt.param {
				t.Errorf("got %+v, want 400 invalid_request_error on %q", e, tt.param)
			}
		})
	}
}

func TestDecodeBadShapes(t *testing.T) {
	for _, body := range []string{
		`{"model":"m","prompt":{"a":1}}`,
		`{"model":"m","stop":5}`,
		`{"model":"m","messages":[{"role":"user","content":5}]}`,
	} {
		var c ChatCompletionRequest
		var r CompletionRequest
		if json.Unmarshal([]byte(body), &r) == nil && json.Unmarshal([]byte(body), &c) == nil {
			t.Errorf("%s decoded without error", body)
		}
	}
}

func TestFromChat(t *testing.T) {
	body := `{"model":"m","messages":[
		{"role":"system","content":"Be brief."},
		{"role":"user","content":[{"type":"text","text":"Tell "},{"type":"text","text":"a story."}]},
		{"role":"assistant","content":"Once"},
		{"role":"user","content":"More."}],
		"max_completion_tokens":7,"max_tokens":99,"stop":"The end","seed":3,"tools":[]}`
	var r ChatCompletionRequest
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	got, err := FromChat(r, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	want := GenerateRequest{
		Model:       "m",
		Prompt:      "System: Be brief.\nUser: Tell a story.\nAssistant: Once\nUser: More.\nAssistant:",
		MaxTokens:   7,
		Temperature: 1, TopP: 1, Seed: u64(3),
		Stop: []string{"The end", ChatTurnStop},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestFromChatDefaultsAndErrors(t *testing.T) {
	r := ChatCompletionRequest{Model: "m", Messages: []ChatMessage{{Role: "user", Content: MessageContent{Text: "hi"}}}}
	g, err := FromChat(r, DefaultLimits)
	if err != nil || g.MaxTokens != DefaultLimits.DefaultChatMaxTokens || g.Prompt != "User: hi\nAssistant:" {
		t.Fatalf("got %+v, %v", g, err)
	}
	bad := map[string]ChatCompletionRequest{
		"messages": {Model: "m"},
		"model":    {Messages: r.Messages},
	}
	bad["messages "] = ChatCompletionRequest{Model: "m", Messages: []ChatMessage{{Role: "wizard"}}}
	bad["messages  "] = ChatCompletionRequest{Model: "m", Messages: []ChatMessage{{Role: "user", Content: MessageContent{NonText: true}}}}
	zero := 0
	bad["max_completion_tokens"] = ChatCompletionRequest{Model: "m", Messages: r.Messages, MaxCompletionTokens: &zero}
	for param, req := range bad {
		_, err := FromChat(req, DefaultLimits)
		var e *Error
		if !errors.As(err, &e) || e.Param != strings.TrimSpace(param) || e.Status != 400 {
			t.Errorf("%s: got %v", param, err)
		}
	}
}

func TestErrorJSON(t *testing.T) {
	b, err := json.Marshal(ModelNotFound("nope").Response())
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	e := got["error"]
	if e["type"] != TypeInvalidRequest || e["param"] != "model" || e["code"] != CodeModelNotFound || !strings.Contains(e["message"].(string), "nope") {
		t.Errorf("got %s", b)
	}
	b, _ = json.Marshal(ServerError(500, "", "boom").Response())
	if string(b) != `{"error":{"message":"boom","type":"server_error","param":null,"code":null}}` {
		t.Errorf("got %s", b)
	}
}

func TestResponsesJSON(t *testing.T) {
	m := Meta{ID: "cmpl-1", Created: 7, Model: "m"}
	res := GenerateResult{Text: "hi", FinishReason: FinishLength, PromptTokens: 2, CompletionTokens: 3}
	tests := []struct {
		v    any
		want string
	}{
		{ToCompletion(m, res), `{"id":"cmpl-1","object":"text_completion","created":7,"model":"m","choices":[{"text":"hi","index":0,"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}`},
		{CompletionChunk(m, "h", ""), `{"id":"cmpl-1","object":"text_completion","created":7,"model":"m","choices":[{"text":"h","index":0,"logprobs":null,"finish_reason":null}]}`},
		{CompletionUsageChunk(m, res), `{"id":"cmpl-1","object":"text_completion","created":7,"model":"m","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}`},
		{ToChatCompletion(m, res), `{"id":"cmpl-1","object":"chat.completion","created":7,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}`},
		{ChatRoleChunk(m), `{"id":"cmpl-1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}`},
		{ChatChunk(m, "", FinishStop), `{"id":"cmpl-1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}`},
		{ChatChunk(m, "x", ""), `{"id":"cmpl-1","object":"chat.completion.chunk","created":7,"model":"m","choices":[{"index":0,"delta":{"content":"x"},"logprobs":null,"finish_reason":null}]}`},
		{ToModelList([]Model{{ID: "a", OwnedBy: "splitup"}}), `{"object":"list","data":[{"id":"a","object":"model","created":0,"owned_by":"splitup"}]}`},
	}
	for i, tt := range tests {
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%d: got\n%s\nwant\n%s", i, b, tt.want)
		}
	}
}

func TestRequestRoundTrip(t *testing.T) {
	in := CompletionRequest{Model: "m", Prompt: PromptValue{Texts: []string{"p"}, Set: true}, Stop: StringList{"a"}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out CompletionRequest
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("%s: got %+v", b, out)
	}
}
