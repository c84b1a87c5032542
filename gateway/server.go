package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ServerConfig configures the HTTP layer.
type ServerConfig struct {
	// RequestTimeout bounds each request, streaming included; 0 means 5 minutes.
	RequestTimeout time.Duration
	// MaxBodyBytes bounds request bodies, in bytes; 0 means 1 MiB.
	MaxBodyBytes int64
	// ShutdownTimeout bounds how long Serve waits for running requests after
	// its context ends before closing their connections; 0 means 10 seconds.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout bounds reading request headers; 0 means 10 seconds.
	ReadHeaderTimeout time.Duration
	// IdleTimeout bounds how long a keep-alive connection waits for its next
	// request; 0 means 2 minutes.
	IdleTimeout time.Duration
	// BodyTimeout bounds reading a request's body; 0 means 1 minute.
	BodyTimeout time.Duration
	// WriteTimeout bounds each write to the client (a reply, or one event of
	// a stream): a client that stops reading loses its request instead of
	// holding a generation; 0 means 30 seconds.
	WriteTimeout time.Duration
	// Logger receives one line per failed request; nil means slog.Default().
	Logger *slog.Logger
}

// Validate reports whether c is usable.
func (c ServerConfig) Validate() error {
	if c.RequestTimeout < 0 || c.MaxBodyBytes < 0 || c.ShutdownTimeout < 0 || c.ReadHeaderTimeout < 0 || c.IdleTimeout < 0 ||
		c.BodyTimeout < 0 || c.WriteTimeout < 0 {
		return errors.New("gateway: server config: durations and sizes must be >= 0")
	}
	return nil
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Minute
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 10 * time.Second
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.BodyTimeout == 0 {
		c.BodyTimeout = time.Minute
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Server is the OpenAI-compatible HTTP server over a Service.
type Server struct {
	svc *Service
	cfg ServerConfig
	mux *http.ServeMux
}

// NewServer returns a Server for svc.
func NewServer(svc *Service, cfg ServerConfig) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Server{svc: svc, cfg: cfg.withDefaults(), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /v1/models", s.handleModels)
	s.mux.HandleFunc("GET /v1/models/{model...}", s.handleModel)
	s.mux.HandleFunc("POST /v1/completions", s.handleCompletions)
	s.mux.HandleFunc("POST /v1/chat/completions", s.handleChat)
	s.mux.HandleFunc("/", s.handleNotFound)
	return s, nil
}

// ServeHTTP applies the body limit and the request deadline, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	}
	s.mux.ServeHTTP(w, r)
}

// Serve answers requests on ln until ctx ends, then shuts down gracefully:
// it stops accepting, lets running requests finish for up to
// ShutdownTimeout, then closes what remains. It returns nil after a clean
// shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("gateway: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		_ = hs.Close() // deadline passed: drop the remaining connections
		err = fmt.Errorf("gateway: shutdown: %w", err)
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("gateway: serve: %w", serr)
	}
	return err
}
