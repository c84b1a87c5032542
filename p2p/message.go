package p2p

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/splitup/splitup/ir"
)

// Pipeline message format, version 2. A message is a 14-byte header
// followed by the payload:
//
//	magic   4 bytes  "SPUM"
//	version 1 byte   2
//	type    1 byte   MsgType
//	length  8 bytes  payload length, unsigned little-endian
//
// Payload fields are fixed-width little-endian integers; a string is a u32
// length and its bytes; a tensor list is a u32 count, then per tensor its
// name (string), a u64 frame length and the canonical ir.Frame encoding; a
// name list is a u32 count and the names (strings).
// Every encoding is canonical: decoding then encoding gives the same bytes.
const (
	// MessageMagic opens every pipeline message.
	MessageMagic = "SPUM"
	// MessageVersion is the format version this build reads and writes.
	MessageVersion = 2
	// MessageHeaderLen is the length of the header before the payload.
	MessageHeaderLen = len(MessageMagic) + 2 + 8
)

// Limits of the message format, whatever the configuration says.
const (
	// MaxMessagePayload caps the payload length field (1 TiB).
	MaxMessagePayload = int64(1) << 40
	// MaxSmallPayload caps the payload of OpenSession, Error and Close.
	MaxSmallPayload = 64 << 10
	// MaxSessionID caps the length of a session id in bytes.
	MaxSessionID = 128
	// MaxPositions caps the positions of one step.
	MaxPositions = 1 << 20
	// MaxTensorsPerMessage caps the named tensors of one message.
	MaxTensorsPerMessage = 1024
	// MaxErrorText caps the text of an Error message in bytes.
	MaxErrorText = 4096
	// MaxAddr caps a peer address or peer id in a Route message, in bytes.
	MaxAddr = 1024
)

// MsgType is the type byte of a pipeline message.
type MsgType uint8

// The message types. Their values are part of the wire format.
const (
	// TypeOpenSession marks an OpenSession message.
	TypeOpenSession MsgType = 1
	// TypeStep marks a Step message.
	TypeStep MsgType = 2
	// TypeStepResult marks a StepResult message.
	TypeStepResult MsgType = 3
	// TypeError marks an Error message.
	TypeError MsgType = 4
	// TypeClose marks a Close message.
	TypeClose MsgType = 5
	// TypeRoute marks a Route message.
	TypeRoute MsgType = 6
	// TypeAttach marks an Attach message.
	TypeAttach MsgType = 7
	// TypeFetch marks a Fetch message.
	TypeFetch MsgType = 8
)

// lastType is the highest message type this build knows.
const lastType = TypeFetch

// String returns the name of t.
func (t MsgType) String() string {
	switch t {
	case TypeOpenSession:
		return "OpenSession"
	case TypeStep:
		return "Step"
	case TypeStepResult:
		return "StepResult"
	case TypeError:
		return "Error"
	case TypeClose:
		return "Close"
	case TypeRoute:
		return "Route"
	case TypeAttach:
		return "Attach"
	case TypeFetch:
		return "Fetch"
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// Limits bound what a decoder accepts from the wire.
type Limits struct {
	// MaxTensorBytes caps the data bytes of one tensor frame.
	MaxTensorBytes int64
	// MaxMessageBytes caps the payload bytes of one message.
	MaxMessageBytes int64
}

// maxPayload returns the largest payload accepted for type t.
func (l Limits) maxPayload(t MsgType) int64 {
	switch t {
	case TypeStep, TypeStepResult:
		return min(l.MaxMessageBytes, MaxMessagePayload)
	}
	return MaxSmallPayload
}

// Message is one of *OpenSession, *Step, *StepResult, *Error, *Close,
// *Route, *Attach and *Fetch.
type Message interface {
	// Type returns the message's type byte.
	Type() MsgType
	encode(e *encoder) error
}

// NamedTensor is a tensor with the name the task interface gives it.
// Batched tensors carry the row count in Frame.Shape[0].
type NamedTensor struct {
	// Name is the tensor's name in the task interface (1..ir.MaxName bytes).
	Name string
	// Frame holds dtype, shape and data.
	Frame ir.Frame
}

// OpenSession starts a session on a stream: the receiver loads the task's
// weights if needed and allocates its state (KV cache) under SessionID.
type OpenSession struct {
	// SessionID names the session (at most MaxSessionID bytes).
	SessionID string
	// ModelID is the chain's id of the model (the SHA-256 of its registration).
	ModelID [32]byte
	// TaskID is the index of the task in the model's task list.
	TaskID uint32
}

// Step carries the inputs of one decoding step (or a batched prefill).
type Step struct {
	// SessionID names the session.
	SessionID string
	// Index is the step's number within the session, from 0.
	Index uint64
	// Positions holds the position of each row of the batch.
	Positions []int32
	// Tensors are the task's inputs; batched ones have len(Positions) rows.
	Tensors []NamedTensor
	// Argmax names outputs (f32, [rows width]) to answer with the index of
	// each row's largest value, the first one on ties (i32, [rows]), in
	// place of the rows: all that greedy sampling needs of the logits, 4
	// bytes per row instead of 4×width. The node still records the rows.
	Argmax []string
}

// StepResult carries the outputs of one step.
type StepResult struct {
	// SessionID names the session.
	SessionID string
	// Index is the number of the step this answers.
	Index uint64
	// Tensors are the task's outputs.
	Tensors []NamedTensor
}

// Error reports a failure to the other end; the stream stays usable unless
// the sender closes it. It also implements error.
type Error struct {
	// Code is one of the Code constants.
	Code uint32
	// Text says what went wrong (at most MaxErrorText bytes).
	Text string
}

// Close ends the session SessionID; the sender sends nothing after it.
type Close struct {
	// SessionID names the session.
	SessionID string
}

// Route tells the node of one stage of a chain of tasks how a session's
// steps travel: with On, the outputs of every step it runs (from the client
// or relayed by the stage before) go straight to the next stage's node as
// that node's Step instead of back to the client (an Error with CodeRelay
// goes to the client if they cannot), and it accepts steps relayed by the
// peer Prev on an Attach stream; the last stage (no Next) answers the
// client as usual. Without On the session takes steps from the client and
// answers each again. Either way the node answers the Route with a
// StepResult without tensors whose Index is the number of steps the
// session has run (the client learns which stages finished a step when
// one failed).
type Route struct {
	// SessionID names the session.
	SessionID string
	// On switches relaying on (the fields below apply) or off.
	On bool
	// Next is the next stage's address (a multiaddr ending in /p2p/ID);
	// empty for the last stage.
	Next string
	// NextTask is the next stage's task index.
	NextTask uint32
	// Prev is the peer id of the stage before, the only peer whose relayed
	// steps are accepted; empty for the first stage.
	Prev string
}

// Attach opens a relay stream: the steps that follow on the stream are for
// the session SessionID of task TaskID of model ModelID, which the client
// Client already opened on the receiver (with an OpenSession of the same
// fields) and routed (Route) to accept them from the sender. The receiver
// acknowledges with an empty StepResult or refuses with an Error.
type Attach struct {
	// SessionID, ModelID and TaskID name the session as its OpenSession
	// did.
	SessionID string
	ModelID   [32]byte
	TaskID    uint32
	// Client is the peer id of the client that opened the session on the
	// sender and on the receiver (at most MaxAddr bytes): a session is the
	// client's, and another client's session of the same id is not it.
	Client string
}

// Fetch asks for rows [From, From+Count) of a tensor the session recorded
// (an input or output of its task, one row per position in the order the
// session ran them): a client rebuilding another stage's cache on a
// replacement node takes that stage's inputs from the producer's record.
// The answer is a StepResult holding the rows as one tensor (Index: the
// steps run), or an Error.
type Fetch struct {
	// SessionID names the session.
	SessionID string
	// Name is the tensor's name in the task interface.
	Name string
	// From is the first row.
	From uint32
	// Count is the number of rows (at most MaxPositions).
	Count uint32
}

// Error codes carried by an Error message.
const (
	CodeInternal       uint32 = 1  // the sender failed for a reason of its own
	CodeProtocol       uint32 = 2  // the received message was malformed or unexpected
	CodeTooLarge       uint32 = 3  // the received message was above a limit
	CodeUnknownSession uint32 = 4  // no open session with that id
	CodeUnknownTask    uint32 = 5  // the sender does not serve that model or task
	CodeBadInput       uint32 = 6  // tensors or positions do not fit the task interface
	CodeBusy           uint32 = 7  // the sender is overloaded; retry elsewhere
	CodeShuttingDown   uint32 = 8  // the sender is stopping
	CodeRelay          uint32 = 9  // the step ran, but the next stage could not be reached
	CodeDeadline       uint32 = 10 // the session reached its task's deadline and was ended
)

// Type implements Message.
func (*OpenSession) Type() MsgType { return TypeOpenSession }

// Type implements Message.
func (*Step) Type() MsgType { return TypeStep }

// Type implements Message.
func (*StepResult) Type() MsgType { return TypeStepResult }

// Type implements Message.
func (*Error) Type() MsgType { return TypeError }

// Type implements Message.
func (*Close) Type() MsgType { return TypeClose }

// Type implements Message.
func (*Route) Type() MsgType { return TypeRoute }

// Type implements Message.
func (*Attach) Type() MsgType { return TypeAttach }

// Type implements Message.
func (*Fetch) Type() MsgType { return TypeFetch }

// Error formats the code and text.
func (m *Error) Error() string { return fmt.Sprintf("remote error %d: %s", m.Code, m.Text) }

// Tensor returns the tensor named name, or nil.
func (m *Step) Tensor(name string) *ir.Frame { return findTensor(m.Tensors, name) }

// Tensor returns the tensor named name, or nil.
func (m *StepResult) Tensor(name string) *ir.Frame { return findTensor(m.Tensors, name) }

func findTensor(ts []NamedTensor, name string) *ir.Frame {
	for i := range ts {
		if ts[i].Name == name {
			return &ts[i].Frame
		}
	}
	return nil
}

func (m *OpenSession) encode(e *encoder) error {
	if err := e.str("session id", m.SessionID, MaxSessionID); err != nil {
		return err
	}
	e.raw(m.ModelID[:])
	e.u32(m.TaskID)
	return nil
}

func (m *Step) encode(e *encoder) error {
	if err := e.str("session id", m.SessionID, MaxSessionID); err != nil {
		return err
	}
	e.u64(m.Index)
	if len(m.Positions) > MaxPositions {
		return fmt.Errorf("%w: %d positions > %d", ErrTooLarge, len(m.Positions), MaxPositions)
	}
	e.u32(uint32(len(m.Positions)))
	for _, p := range m.Positions {
		e.u32(uint32(p))
	}
	if err := e.tensors(m.Tensors); err != nil {
		return err
	}
	return e.names(m.Argmax)
}

func (m *StepResult) encode(e *encoder) error {
	if err := e.str("session id", m.SessionID, MaxSessionID); err != nil {
		return err
	}
	e.u64(m.Index)
	return e.tensors(m.Tensors)
}

func (m *Error) encode(e *encoder) error {
	e.u32(m.Code)
	return e.str("error text", m.Text, MaxErrorText)
}

func (m *Close) encode(e *encoder) error {
	return e.str("session id", m.SessionID, MaxSessionID)
}

func (m *Route) encode(e *encoder) error {
	if err := e.str("session id", m.SessionID, MaxSessionID); err != nil {
		return err
	}
	on := byte(0)
	if m.On {
		on = 1
	}
	e.raw([]byte{on})
	if err := e.str("next address", m.Next, MaxAddr); err != nil {
		return err
	}
	e.u32(m.NextTask)
	return e.str("previous peer", m.Prev, MaxAddr)
}

func (m *Attach) encode(e *encoder) error {
	o := OpenSession{SessionID: m.SessionID, ModelID: m.ModelID, TaskID: m.TaskID}
	if err := o.encode(e); err != nil {
		return err
	}
	return e.str("client", m.Client, MaxAddr)
}

func (m *Fetch) encode(e *encoder) error {
	if err := e.str("session id", m.SessionID, MaxSessionID); err != nil {
		return err
	}
	if err := checkName(m.Name); err != nil {
		return err
	}
	e.name(m.Name)
	if m.Count > MaxPositions {
		return fmt.Errorf("%w: fetch of %d rows > %d", ErrTooLarge, m.Count, MaxPositions)
	}
	e.u32(m.From)
	e.u32(m.Count)
	return nil
}

// decodePayload parses the payload of a message of type t.
func decodePayload(t MsgType, b []byte, lim Limits) (Message, error) {
	d := &decoder{b: b, lim: lim}
	var m Message
	switch t {
	case TypeOpenSession:
		m = decodeOpenSession(d)
	case TypeStep:
		s := &Step{SessionID: d.str("session id", MaxSessionID), Index: d.u64()}
		n := d.count("positions", MaxPositions, 4)
		if n > 0 {
			s.Positions = make([]int32, n)
			for i := range s.Positions {
				s.Positions[i] = int32(d.u32())
			}
		}
		s.Tensors = d.tensors()
		s.Argmax = d.names()
		m = s
	case TypeStepResult:
		r := &StepResult{SessionID: d.str("session id", MaxSessionID), Index: d.u64()}
		r.Tensors = d.tensors()
		m = r
	case TypeError:
		m = &Error{Code: d.u32(), Text: d.str("error text", MaxErrorText)}
	case TypeClose:
		m = &Close{SessionID: d.str("session id", MaxSessionID)}
	case TypeRoute:
		r := &Route{SessionID: d.str("session id", MaxSessionID)}
		if b := d.bytes(1); b != nil {
			if b[0] > 1 {
				d.fail("route flag %d, want 0 or 1", b[0])
			}
			r.On = b[0] == 1
		}
		r.Next = d.str("next address", MaxAddr)
		r.NextTask = d.u32()
		r.Prev = d.str("previous peer", MaxAddr)
		m = r
	case TypeFetch:
		f := &Fetch{SessionID: d.str("session id", MaxSessionID), Name: d.name("tensor name")}
		f.From, f.Count = d.u32(), d.u32()
		if d.err == nil && f.Count > MaxPositions {
			d.err = fmt.Errorf("%w: fetch of %d rows > %d", ErrTooLarge, f.Count, MaxPositions)
		}
		m = f
	case TypeAttach:
		o := decodeOpenSession(d)
		m = &Attach{SessionID: o.SessionID, ModelID: o.ModelID, TaskID: o.TaskID, Client: d.str("client", MaxAddr)}
	default:
		return nil, fmt.Errorf("%w: unknown message type %d", ErrMalformed, t)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes after %v", len(d.b), t)
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode %v: %w", t, d.err)
	}
	return m, nil
}

func decodeOpenSession(d *decoder) *OpenSession {
	o := &OpenSession{SessionID: d.str("session id", MaxSessionID)}
	copy(o.ModelID[:], d.bytes(32))
	o.TaskID = d.u32()
	return o
}

// checkName validates a tensor name.
func checkName(name string) error {
	if name == "" || len(name) > ir.MaxName || !utf8.ValidString(name) {
		return fmt.Errorf("%w: tensor name %q must be 1..%d bytes of UTF-8", ErrMalformed, name, ir.MaxName)
	}
	return nil
}

// frameHeader returns the canonical ir.Frame header (everything before the
// data) of f.
func frameHeader(f *ir.Frame) []byte {
	b := make([]byte, 0, ir.FrameHeaderLen(f.Shape))
	b = append(b, ir.TensorMagic...)
	b = append(b, ir.TensorVersion, byte(f.DType))
	b = binary.AppendUvarint(b, uint64(len(f.Shape)))
	for _, d := range f.Shape {
		b = binary.AppendUvarint(b, uint64(d))
	}
	return b
}
