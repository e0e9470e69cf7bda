package retry_test

import (
	"fmt"
	"time"

	"github.com/tgnotify/tgnotify/retry"
)

func ExampleBackoff() {
	b := retry.New(100*time.Millisecond, time.Second)
	for range 5 {
		w := b.Next()
		fmt.Println(w >= 50*time.Millisecond && w <= time.Second)
	}
	// Output:
	// true
	// true
	// true
	// true
	// true
}
