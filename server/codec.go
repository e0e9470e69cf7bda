package server

import (
	"context"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// invalidUTF8Field is the unknown-field number under which utf8Codec notes
// the names of string fields it dropped for holding invalid UTF-8, or
// "request" for a message that does not parse (the largest field number
// protobuf allows; never used by the API).
const invalidUTF8Field protowire.Number = protowire.MaxValidNumber

// utf8Codec is grpc's proto codec, except that a request that does not
// parse, or whose string fields hold invalid UTF-8, is not a transport
// failure: grpc-go would answer INTERNAL for any unmarshal error. The problem
// is noted in the message, and rejectInvalidUTF8 answers INVALID_ARGUMENT
// naming the bad fields.
type utf8Codec struct{ base encoding.CodecV2 }

func newUTF8Codec() utf8Codec { return utf8Codec{base: encoding.GetCodecV2("proto")} }

func (c utf8Codec) Name() string { return c.base.Name() }

func (c utf8Codec) Marshal(v any) (mem.BufferSlice, error) { return c.base.Marshal(v) }

func (c utf8Codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.base.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok {
		return err
	}
	// A malformed request is the caller's mistake, not an internal error:
	// note it for rejectInvalidUTF8 instead of failing here.
	field := "request"
	if strings.Contains(err.Error(), "UTF-8") {
		if kept, bad, ok := dropInvalidStrings(data.Materialize(), m.ProtoReflect().Descriptor().Fields()); ok && len(bad) > 0 {
			proto.Reset(m)
			if proto.Unmarshal(kept, m) == nil {
				field = strings.Join(bad, ",")
			}
		}
	}
	if field == "request" {
		proto.Reset(m)
	}
	note := protowire.AppendTag(nil, invalidUTF8Field, protowire.BytesType)
	note = protowire.AppendString(note, field)
	r := m.ProtoReflect()
	r.SetUnknown(append(r.GetUnknown(), note...))
	return nil
}

// dropInvalidStrings removes top-level string fields whose value is not
// valid UTF-8 from a wire-format message and returns their names.
func dropInvalidStrings(b []byte, fields protoreflect.FieldDescriptors) (kept []byte, bad []string, ok bool) {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, nil, false
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return nil, nil, false
		}
		if fd := fields.ByNumber(num); fd != nil && fd.Kind() == protoreflect.StringKind && typ == protowire.BytesType {
			if val, _ := protowire.ConsumeBytes(b[n:]); !utf8.Valid(val) {
				bad = append(bad, string(fd.Name()))
				b = b[n+m:]
				continue
			}
		}
		kept = append(kept, b[:n+m]...)
		b = b[n+m:]
	}
	return kept, bad, true
}

// rejectInvalidUTF8 answers INVALID_ARGUMENT for requests utf8Codec marked.
func rejectInvalidUTF8(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := utf8Problem(req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

// rejectInvalidUTF8Stream is rejectInvalidUTF8 for streaming calls: every
// message the handler receives is checked (without it, a WatchEvents
// request whose user_id is not UTF-8 would arrive with user_id dropped,
// and watch every user).
func rejectInvalidUTF8Stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, utf8Stream{ss})
}

// utf8Stream checks each received message with utf8Problem.
type utf8Stream struct{ grpc.ServerStream }

func (s utf8Stream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return utf8Problem(m)
}

// utf8Problem returns the INVALID_ARGUMENT status of a request utf8Codec
// marked, or nil.
func utf8Problem(req any) error {
	m, ok := req.(proto.Message)
	if !ok {
		return nil
	}
	unknown := m.ProtoReflect().GetUnknown()
	for len(unknown) > 0 {
		num, typ, n := protowire.ConsumeTag(unknown)
		if n < 0 {
			break
		}
		if num == invalidUTF8Field && typ == protowire.BytesType {
			names, _ := protowire.ConsumeString(unknown[n:])
			if names == "request" {
				return toStatus(invalid(names, "malformed protobuf message"))
			}
			return toStatus(invalid(names, "must be valid UTF-8"))
		}
		l := protowire.ConsumeFieldValue(num, typ, unknown[n:])
		if l < 0 {
			break
		}
		unknown = unknown[n+l:]
	}
	return nil
}
