package p2p

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/splitup/splitup/ir"
)

// ackStage answers each Step with an empty StepResult.
func ackStage(ctx context.Context, s *Stream) {
	for {
		m, err := s.Recv()
		if err != nil {
			return
		}
		if st, ok := m.(*Step); ok {
			if s.Send(&StepResult{SessionID: st.SessionID, Index: st.Index}) != nil {
				return
			}
		}
	}
}

func benchStream(b *testing.B, handler func(context.Context, *Stream)) *Stream {
	srv := newTestHost(b, nil)
	cli := newTestHost(b, nil)
	srv.SetPipelineHandler(handler)
	s, err := cli.OpenPipeline(context.Background(), connect(b, cli, srv))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// loopbackTCP starts a plain TCP server on loopback that runs serve on its
// first connection, and returns the client side of that connection.
func loopbackTCP(b *testing.B, serve func(net.Conn)) net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		serve(c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func reportGBps(b *testing.B, bytesPerOp int64, elapsed time.Duration) {
	b.ReportMetric(float64(bytesPerOp)*float64(b.N)/elapsed.Seconds()/1e9, "GB/s")
}

// BenchmarkPipelineTensor64MiB sends Steps with one 64 MiB f32 tensor
// between two hosts on loopback; the receiver decodes each and acks.
func BenchmarkPipelineTensor64MiB(b *testing.B) {
	const size = 64 << 20
	s := benchStream(b, ackStage)
	step := &Step{SessionID: "bench", Positions: []int32{0}, Tensors: []NamedTensor{{
		Name:  "x",
		Frame: ir.Frame{DType: ir.F32, Shape: ir.Shape{1, size / 4}, Data: make([]byte, size)},
	}}}
	b.SetBytes(size)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		step.Index = uint64(i)
		if err := s.Send(step); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			b.Fatal(err)
		}
	}
	reportGBps(b, size, time.Since(start))
}

// BenchmarkRoundTrip measures a Step with one tensor (2 KiB: a 512-wide f32
// activation; 125 KiB: a row of logits) and its echoed StepResult between
// two hosts on loopback, alternating with the baseline: the same bytes
// echoed over a plain loopback TCP connection. With work set, the server
// spins that long before answering, as a pipeline stage computes (2.5 ms: a
// stage of the dim-512 model; 15 ms: of the 110M shape), so the idle side's
// wake-up shows. It reports medians in µs per round trip, work excluded,
// and their ratio.
func BenchmarkRoundTrip(b *testing.B) {
	for _, size := range []int{2 << 10, 125 << 10} { // an activation row; the logits of a 32000-token vocabulary
		for _, work := range []time.Duration{0, 2500 * time.Microsecond, 15 * time.Millisecond} {
			b.Run(fmt.Sprintf("size=%dKiB/work=%v", size>>10, work), func(b *testing.B) { benchRoundTrip(b, work, size) })
		}
	}
}

func spin(d time.Duration) {
	for start := time.Now(); time.Since(start) < d; {
	}
}

func benchRoundTrip(b *testing.B, work time.Duration, size int) {
	s := benchStream(b, func(ctx context.Context, s *Stream) {
		for {
			m, err := s.Recv()
			if err != nil {
				return
			}
			if st, ok := m.(*Step); ok {
				spin(work)
				if s.Send(&StepResult{SessionID: st.SessionID, Index: st.Index, Tensors: st.Tensors}) != nil {
					return
				}
			}
		}
	})
	c := loopbackTCP(b, func(c net.Conn) {
		buf := make([]byte, size)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			spin(work)
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
	buf := make([]byte, size)
	step := &Step{SessionID: "bench", Positions: []int32{7}, Tensors: []NamedTensor{{Name: "x", Frame: testFrame(1, size/4)}}}
	var ours, tcp []time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		step.Index = uint64(i)
		if err := s.Send(step); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			b.Fatal(err)
		}
		ours = append(ours, time.Since(start)-work)
		start = time.Now()
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
		tcp = append(tcp, time.Since(start)-work)
	}
	slices.Sort(ours)
	slices.Sort(tcp)
	o, t := ours[len(ours)/2], tcp[len(tcp)/2]
	b.ReportMetric(float64(o.Nanoseconds())/1e3, "µs/roundtrip")
	b.ReportMetric(float64(t.Nanoseconds())/1e3, "tcp_µs/roundtrip")
	b.ReportMetric(float64(o)/float64(t), "x_tcp")
}

// BenchmarkBlobFetch64MiB fetches a 64 MiB blob into a fresh store
// (including hashing and fsync) between two hosts on loopback.
func BenchmarkBlobFetch64MiB(b *testing.B) {
	const size = 64 << 20
	srv := newTestHost(b, nil)
	cli := newTestHost(b, nil)
	src := mustStore(b)
	srv.ServeBlobs(src)
	p := connect(b, cli, srv)
	h := put(b, src, randomBytes(b, size))
	b.SetBytes(size)
	b.ResetTimer()
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		dst := mustStore(b)
		start := time.Now()
		if _, err := cli.Fetch(context.Background(), p, h, dst, nil); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
	}
	reportGBps(b, size, elapsed)
}

// BenchmarkLoopbackTCP64MiB is the baseline: 64 MiB over a plain loopback
// TCP connection (no encryption, no muxer, no framing).
func BenchmarkLoopbackTCP64MiB(b *testing.B) {
	const size = 64 << 20
	c := loopbackTCP(b, func(c net.Conn) {
		buf := make([]byte, 1<<20)
		ack := []byte{1}
		for {
			if _, err := io.ReadFull(c, buf[:0]); err != nil {
				return
			}
			n := int64(0)
			for n < size {
				k, err := c.Read(buf)
				if err != nil {
					return
				}
				n += int64(k)
			}
			if _, err := c.Write(ack); err != nil {
				return
			}
		}
	})
	data := make([]byte, size)
	ack := make([]byte, 1)
	b.SetBytes(size)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(data); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, ack); err != nil {
			b.Fatal(err)
		}
	}
	reportGBps(b, size, time.Since(start))
}
