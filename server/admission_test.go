package server

import (
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestAdmissionConfig checks the variables of findings 7 and 13 of issue 8.
func TestAdmissionConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		user    int64
		queued  int64
		waitN   int
		waitFor time.Duration
		wantErr string
	}{
		{name: "defaults", user: 10000, queued: 1000000, waitFor: 500 * time.Millisecond},
		{name: "set", env: map[string]string{"NOTIFIER_MAX_USER_BACKLOG": "5", "NOTIFIER_MAX_QUEUED": "0",
			"NOTIFIER_REDIS_WAIT_REPLICAS": "1", "NOTIFIER_REDIS_WAIT_TIMEOUT": "2s"},
			user: 5, queued: 0, waitN: 1, waitFor: 2 * time.Second},
		{name: "bad backlog", env: map[string]string{"NOTIFIER_MAX_USER_BACKLOG": "-1"}, wantErr: "NOTIFIER_MAX_USER_BACKLOG"},
		{name: "bad queued", env: map[string]string{"NOTIFIER_MAX_QUEUED": "lots"}, wantErr: "NOTIFIER_MAX_QUEUED"},
		{name: "bad replicas", env: map[string]string{"NOTIFIER_REDIS_WAIT_REPLICAS": "x"}, wantErr: "NOTIFIER_REDIS_WAIT_REPLICAS"},
		{name: "bad wait timeout", env: map[string]string{"NOTIFIER_REDIS_WAIT_TIMEOUT": "0s"}, wantErr: "NOTIFIER_REDIS_WAIT_TIMEOUT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := LoadConfig(MapLookup(tc.env))
			if tc.wantErr != "" {
				if err == nil || !contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Delivery.MaxUserBacklog != tc.user || c.Delivery.MaxQueued != tc.queued ||
				c.RedisWaitReplicas != tc.waitN || c.RedisWaitTimeout != tc.waitFor {
				t.Fatalf("config = backlog %d, queued %d, wait %d/%v", c.Delivery.MaxUserBacklog, c.Delivery.MaxQueued,
					c.RedisWaitReplicas, c.RedisWaitTimeout)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

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
