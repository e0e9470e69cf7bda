package server

import (
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"net/http"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestAdmissionStatus: an enqueue refused by a backlog limit answers
// RESOURCE_EXHAUSTED (HTTP 429) with a RetryInfo.
func TestAdmissionStatus(t *testing.T) {
	for _, sentinel := range []error{delivery.ErrBacklogFull, delivery.ErrQueueFull} {
		t.Run(sentinel.Error(), func(t *testing.T) {
			st, _ := status.FromError(toStatus(fmt.Errorf("delivery: enqueue: %w", sentinel)))
			if st.Code() != codes.ResourceExhausted || runtime.HTTPStatusFromCode(st.Code()) != http.StatusTooManyRequests {
				t.Fatalf("status = %v", st)
			}
			var ri *errdetails.RetryInfo
			for _, d := range st.Details() {
				if r, ok := d.(*errdetails.RetryInfo); ok {
					ri = r
				}
			}
			if ri == nil || ri.GetRetryDelay().AsDuration() <= 0 {
				t.Fatalf("details = %v, want a RetryInfo", st.Details())
			}
		})
	}
}
