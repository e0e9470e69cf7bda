package store

// A record keeps its text only until it is SENT: from then on the parts are
// dropped (Redis: the record field parts is deleted) and only their number
// (nparts), total length (text_len) and SHA-256 (text_sha256) remain, so a
// finished notification costs little memory for its retention and no
// longer holds the message.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/tgnotify/tgnotify/delivery"
	"strconv"
)

// textDigest returns the total length in bytes of parts and the hex
// SHA-256 of their concatenation.
func textDigest(parts []string) (int, string) {
	h := sha256.New()
	total := 0
	for _, p := range parts {
		total += len(p)
		h.Write([]byte(p))
	}
	return total, hex.EncodeToString(h.Sum(nil))
}

// dropText empties the parts of n, keeping their number.
func dropText(n *delivery.Notification) {
	for i := range n.Parts {
		n.Parts[i] = ""
	}
}

// parseParts decodes the parts, text_len and text_sha256 of a record hash
// into n; without parts (dropped once sent) n gets nparts empty parts.
func parseParts(n *delivery.Notification, f map[string]string) error {
	n.TextLen, _ = strconv.Atoi(f["text_len"])
	n.TextSHA256 = f["text_sha256"]
	raw, ok := f["parts"]
	if !ok {
		np := 1
		if v, ok := f["nparts"]; ok {
			var err error
			if np, err = strconv.Atoi(v); err != nil || np < 0 || np > 1<<16 {
				return fmt.Errorf("corrupt record %s: nparts %q", n.ID, v)
			}
		}
		n.Parts = make([]string, np)
		return nil
	}
	if err := json.Unmarshal([]byte(raw), &n.Parts); err != nil {
		return fmt.Errorf("corrupt record %s: parts: %w", n.ID, err)
	}
	return nil
}
