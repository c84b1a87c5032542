package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/splitup/splitup/wire"
)

func (s *Server) handleModels(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, http.StatusOK, s.svc.Models())
}

func (s *Server) handleModel(w http.ResponseWriter, r *http.Request) {
	m, err := s.svc.Model(r.PathValue("model"))
	s.reply(w, r, m, err)
}

func (s *Server) handleCompletions(w http.ResponseWriter, r *http.Request) {
	var req wire.CompletionRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.Stream {
		sse := newSSE(w, s.cfg.WriteTimeout)
		s.finishStream(w, r, sse, s.svc.CompletionStream(r.Context(), req, func(c wire.CompletionResponse) error {
			return sse.send(c)
		}))
		return
	}
	resp, err := s.svc.Completion(r.Context(), req)
	s.reply(w, r, resp, err)
}

func (s *Server) handleChat(w http.ResponseWriter, r *http.Request) {
	var req wire.ChatCompletionRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.Stream {
		sse := newSSE(w, s.cfg.WriteTimeout)
		s.finishStream(w, r, sse, s.svc.ChatStream(r.Context(), req, func(c wire.ChatCompletionChunk) error {
			return sse.send(c)
		}))
		return
	}
	resp, err := s.svc.Chat(r.Context(), req)
	s.reply(w, r, resp, err)
}

// routes maps each served path to its method, for 404 and 405 replies.
var routes = map[string]string{
	"/v1/models":           http.MethodGet,
	"/v1/completions":      http.MethodPost,
	"/v1/chat/completions": http.MethodPost,
}

func (s *Server) handleNotFound(w http.ResponseWriter, r *http.Request) {
	if m, ok := routes[r.URL.Path]; ok {
		w.Header().Set("Allow", m)
		s.fail(w, r, &wire.Error{Status: http.StatusMethodNotAllowed, Type: wire.TypeInvalidRequest,
			Message: fmt.Sprintf("%s %s is not served; use %s", r.Method, r.URL.Path, m)})
		return
	}
	s.fail(w, r, &wire.Error{Status: http.StatusNotFound, Type: wire.TypeInvalidRequest,
		Message: fmt.Sprintf("no route for %s %s; the API serves GET /v1/models, POST /v1/completions and POST /v1/chat/completions", r.Method, r.URL.Path)})
}

// decode reads a JSON body into v, answering 400 (or 413) itself on failure.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	// The request's deadline does not end a read. This one stays after the
	// decode: the server reads what is left of the body before it answers
	// (its watch for the client's leaving, which starts at the body's end,
	// clears it).
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	err := json.NewDecoder(r.Body).Decode(v)
	if err == nil {
		return true
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		s.fail(w, r, &wire.Error{Status: http.StatusRequestEntityTooLarge, Type: wire.TypeInvalidRequest,
			Code: wire.CodeBodyTooLarge, Message: fmt.Sprintf("the request body exceeds %d bytes", tooBig.Limit)})
	case errors.Is(err, io.EOF):
		s.fail(w, r, wire.BadRequest("", wire.CodeInvalidJSON, "the request body is empty; send a JSON object"))
	default:
		s.fail(w, r, wire.BadRequest("", wire.CodeInvalidJSON, "the request body is not valid JSON for this endpoint: %v", err))
	}
	return false
}

// reply encodes a non-streamed result.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeJSON(w, http.StatusOK, v)
}

// finishStream ends a stream: [DONE] after success, an error event if the
// stream had started, or a plain JSON error if nothing was sent yet.
func (s *Server) finishStream(w http.ResponseWriter, r *http.Request, sse *sseWriter, err error) {
	switch {
	case err == nil:
		_ = sse.done() // the client may be gone; nothing else to do
	case !sse.started:
		s.fail(w, r, err)
	default:
		e := asAPIError(err)
		s.log(r, e)
		_ = sse.send(e.Response())
	}
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := asAPIError(err)
	s.log(r, e)
	s.writeJSON(w, e.Status, e.Response())
}

func (s *Server) log(r *http.Request, e *wire.Error) {
	s.cfg.Logger.Info("gateway: request failed", "method", r.Method, "path", r.URL.Path,
		"status", e.Status, "type", e.Type, "code", e.Code, "message", e.Message)
}

func asAPIError(err error) *wire.Error {
	var e *wire.Error
	if errors.As(err, &e) {
		return e
	}
	return wire.ServerError(http.StatusInternalServerError, wire.CodeEngineFailed, "%v", err)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // a write error means the client is gone
}

// sseWriter writes server-sent events. Headers go out with the first event,
// so an error found before any event can still be a plain JSON reply.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration // bounds each event's write
	started bool
}

func newSSE(w http.ResponseWriter, timeout time.Duration) *sseWriter {
	return &sseWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

func (s *sseWriter) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.write(b)
}

func (s *sseWriter) done() error { return s.write([]byte(wire.StreamDone)) }

func (s *sseWriter) write(data []byte) error {
	if !s.started {
		h := s.w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Accel-Buffering", "no")
		s.w.WriteHeader(http.StatusOK)
		s.started = true
	}
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
		return err
	}
	if _, err := fmt.Fprintf(s.w, "data: %s\n\n", data); err != nil {
		return err
	}
	return s.rc.Flush()
}
