package poll_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tgnotify/tgnotify/internal/poll"
)

func ExampleUntil() {
	ready := make(chan struct{})
	go close(ready)
	err := poll.Until(context.Background(), 5*time.Second, "the worker to start", func() (bool, error) {
		select {
		case <-ready:
			return true, nil
		default:
			return false, nil
		}
	})
	fmt.Println(err)

	err = poll.Until(context.Background(), 10*time.Millisecond, "a condition that never holds", func() (bool, error) {
		return false, nil
	})
	fmt.Println(err)
	// Output:
	// <nil>
	// timed out after 10ms waiting for a condition that never holds: context deadline exceeded
}
