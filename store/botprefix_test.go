package store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/store"
)

// crc16 is Redis Cluster's key hash (CRC16-CCITT/XMODEM).
func crc16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc ^= uint16(c) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// keySlot is CLUSTER KEYSLOT: the hash of the key's tag (the bytes between
// the first '{' and the next '}', when not empty), else of the whole key.
func keySlot(key string) int {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			key = key[i+1 : i+1+j]
		}
	}
	return int(crc16([]byte(key)) % 16384)
}

// TestBotPrefixSlots: the bot "default" keeps today's prefix on every
// topology; every other bot's keys share one hash tag of their own, so on
// Redis Cluster one bot stays in one slot while six bots spread over
// different slots.
func TestBotPrefixSlots(t *testing.T) {
	t.Parallel()
	if got := crc16([]byte("123456789")); got != 0x31C3 {
		t.Fatalf("crc16 check value = %#x, want 0x31c3", got)
	}
	if got := keySlot("foo"); got != 12182 {
		t.Fatalf("KEYSLOT foo = %d, want 12182 (Redis's answer)", got)
	}
	const cluster, single = "redis-cluster://127.0.0.1:7000", "redis://127.0.0.1:6379/0"
	if got := store.BotPrefix(single, "default"); got != "tgn" {
		t.Errorf("default on a single node = %q, want tgn (today's keys)", got)
	}
	if got := store.BotPrefix(cluster, "default"); got != "{tgn}" {
		t.Errorf("default on a cluster = %q, want {tgn} (today's keys)", got)
	}
	if a, b := store.BotPrefix(single, "shop"), store.BotPrefix(cluster, "shop"); a != "{tgn:shop}" || b != a {
		t.Errorf("bot shop = %q (single), %q (cluster), want {tgn:shop} on both", a, b)
	}
	slots := map[int]string{}
	for _, bot := range []string{"default", "a", "b", "c", "d", "e"} {
		p := store.BotPrefix(cluster, bot)
		slot := keySlot(p + ":sched")
		for _, k := range []string{":q:42", ":n:0123abcd", ":links:7", ":events", ":lease:poller"} {
			if s := keySlot(p + k); s != slot {
				t.Errorf("bot %s: %s%s in slot %d, %s:sched in %d: one bot must stay in one slot", bot, p, k, s, p, slot)
			}
		}
		if other, dup := slots[slot]; dup {
			t.Errorf("bots %s and %s share slot %d", other, bot, slot)
		}
		slots[slot] = bot
	}
	t.Log(fmt.Sprint("slots: ", slots))
}
