package server_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec sends pre-encoded bytes, so a test can put invalid UTF-8 on the
// wire (grpc-go's own codec refuses to marshal it).
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(*v.(*[]byte))}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*v.(*[]byte) = data.Materialize()
	return nil
}

func wireString(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func TestInvalidUTF8IsInvalidArgument(t *testing.T) {
	t.Parallel()
	h := startHarness(t, harnessOpts{})
	cases := []struct {
		name, method string
		req          []byte
		want         codes.Code
		field        string
	}{
		{"GetStatus user_id", "GetStatus", wireString(nil, 1, "a\xffb"), codes.InvalidArgument, "user_id"},
		{"Notify text", "Notify", wireString(wireString(nil, 1, "u"), 2, "hi \xc3\x28"), codes.InvalidArgument, "text"},
		{"CreateLinkToken user_id", "CreateLinkToken", wireString(nil, 1, "\xed\xa0\x80"), codes.InvalidArgument, "user_id"},
		{"valid request still works", "GetStatus", wireString(nil, 1, "ok-user"), codes.OK, ""},
		{"truncated message", "GetStatus", []byte{0x0a, 0x05, 'a'}, codes.InvalidArgument, "malformed"},
		{"overlong varint", "Notify", []byte{0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, codes.InvalidArgument, "malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var resp []byte
			req := c.req
			err := h.conn.Invoke(ctxT(t), "/notifier.v1.NotifierService/"+c.method, &req, &resp, grpc.ForceCodecV2(rawCodec{}))
			if got := status.Code(err); got != c.want {
				t.Fatalf("code = %s (%v), want %s", got, err, c.want)
			}
			if c.field != "" && !strings.Contains(status.Convert(err).Message(), c.field) {
				t.Fatalf("message %q does not name %s", status.Convert(err).Message(), c.field)
			}
		})
	}
}
