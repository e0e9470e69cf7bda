package store

import "testing"

func TestRedisURLProtocol(t *testing.T) {
	tests := []struct {
		url  string
		want int
	}{
		{"redis://127.0.0.1:6379/0", defaultProtocol},
		{"redis://127.0.0.1:6379/0?protocol=3", 3},
		{"unix:///tmp/redis.sock", defaultProtocol},
		{"redis-sentinel://127.0.0.1:26379/mymaster", defaultProtocol},
		{"redis-sentinel://127.0.0.1:26379/mymaster?protocol=3", 3},
		{"redis-cluster://127.0.0.1:7000,127.0.0.1:7001", defaultProtocol},
		{"redis-cluster://127.0.0.1:7000?protocol=3", 3},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			tg, err := parseRedisURL(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			var got int
			switch {
			case tg.single != nil:
				got = tg.single.Protocol
			case tg.failover != nil:
				got = tg.failover.Protocol
			case tg.cluster != nil:
				got = tg.cluster.Protocol
			}
			if got != tt.want {
				t.Errorf("protocol = %d, want %d", got, tt.want)
			}
		})
	}
}
