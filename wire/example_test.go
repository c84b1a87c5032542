package wire_test

import (
	"encoding/json"
	"fmt"

	"github.com/splitup/splitup/wire"
)

func ExampleFromChat() {
	var req wire.ChatCompletionRequest
	_ = json.Unmarshal([]byte(`{"model":"stories260K","max_tokens":50,"temperature":0.5,
		"messages":[{"role":"system","content":"Be kind."},{"role":"user","content":"A story, please."}]}`), &req)
	g, err := wire.FromChat(req, wire.DefaultLimits)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s\n%d %.1f %q\n", g.Prompt, g.MaxTokens, g.Temperature, g.Stop)
	// Output:
	// System: Be kind.
	// User: A story, please.
	// Assistant:
	// 50 0.5 ["\nUser:"]
}

func ExampleFromCompletion_error() {
	_, err := wire.FromCompletion(wire.CompletionRequest{Model: "m", Prompt: wire.PromptValue{Texts: []string{"hi"}}, N: new(int)}, wire.DefaultLimits)
	b, _ := json.Marshal(err.(*wire.Error).Response())
	fmt.Println(err.(*wire.Error).Status, string(b))
	// Output:
	// 400 {"error":{"message":"n must be 1 (one choice per request), got 0","type":"invalid_request_error","param":"n","code":"unsupported_value"}}
}
