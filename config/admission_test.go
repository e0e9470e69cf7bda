package config

import (
	"strings"
	"testing"
	"time"
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
			c, err := Load(MapLookup(tc.env))
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
