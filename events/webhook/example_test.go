package webhook_test

import (
	"fmt"
	"time"

	"github.com/tgnotify/tgnotify/events/webhook"
)

func ExampleSign() {
	body := []byte(`{"events":[]}`)
	fmt.Println(webhook.Sign([]byte("whsec-example"), time.Unix(1764600000, 0), body))
	// Output: t=1764600000,v1=0aaec2566011e6fcebdfcd77fb7f5698e604b8ee94163d86a220ecaa196b692d
}
