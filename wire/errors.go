package wire

import (
	"fmt"
	"net/http"
)

// OpenAI error types.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeServer         = "server_error"
)

// Error codes used in ErrorBody.Code.
const (
	CodeModelNotFound     = "model_not_found"
	CodeInvalidValue      = "invalid_value"
	CodeMissing           = "missing_required_parameter"
	CodeUnsupported       = "unsupported_value"
	CodeBodyTooLarge      = "request_too_large"
	CodeInvalidJSON       = "invalid_json"
	CodeTimeout           = "timeout"
	CodeEngineFailed      = "engine_error"
	CodeEngineUnavailable = "engine_unavailable"
)

// ErrorBody is OpenAI's error object.
type ErrorBody struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// ErrorResponse is the body of every error reply: {"error": {...}}.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// Error is an API error: an HTTP status plus OpenAI's error fields. It is
// returned by the translation functions and by the gateway's service, and
// encoded by the HTTP layer.
type Error struct {
	// Status is the HTTP status code (400, 404, 500, 503, ...).
	Status int
	// Type is the OpenAI error type (TypeInvalidRequest, TypeServer).
	Type string
	// Message is shown to the user; it says what to change.
	Message string
	// Param names the offending request field, or is empty.
	Param string
	// Code is a machine-readable code (CodeModelNotFound, ...), or empty.
	Code string
}

// Error implements error.
func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%s (param %s): %s", e.Type, e.Param, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Type, e.Message)
}

// Response returns the JSON body for e.
func (e *Error) Response() ErrorResponse {
	b := ErrorBody{Message: e.Message, Type: e.Type}
	if e.Param != "" {
		p := e.Param
		b.Param = &p
	}
	if e.Code != "" {
		c := e.Code
		b.Code = &c
	}
	return ErrorResponse{Error: b}
}

// BadRequest returns a 400 invalid_request_error about param.
func BadRequest(param, code, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: TypeInvalidRequest, Param: param, Code: code,
		Message: fmt.Sprintf(format, args...)}
}

// ModelNotFound returns the 404 error for an unknown model id.
func ModelNotFound(model string) *Error {
	return &Error{Status: http.StatusNotFound, Type: TypeInvalidRequest, Param: "model", Code: CodeModelNotFound,
		Message: fmt.Sprintf("the model %q does not exist; GET /v1/models lists the served models", model)}
}

// ServerError returns an error of type server_error with the given status
// (500 for a failed engine, 503 when none is available, 504 on timeout).
func ServerError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Type: TypeServer, Code: code, Message: fmt.Sprintf(format, args...)}
}
