package server

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/tgnotify/tgnotify/delivery"
)

func TestExpandValues(t *testing.T) {
	t.Parallel()
	many := func(n int) (string, map[string]string) {
		var b strings.Builder
		vs := make(map[string]string, n)
		for i := range n {
			k := fmt.Sprintf("v%d", i)
			b.WriteString("{{" + k + "}} ")
			vs[k] = "x"
		}
		return b.String(), vs
	}
	text100, values100 := many(100)
	text101, values101 := many(101)
	tests := []struct {
		name, text, pm string
		values         map[string]string
		reject         bool
		want           string
		field          string // the InvalidArgumentError's field; "" for none
		placeholder    string // the PlaceholderError's name
	}{
		{"no values", "hi {{x}}", "", nil, false, "", "", "x"},
		{"none needed", "hi", "", nil, false, "hi", "", ""},
		{"escaped", "*{{x}}*", "MarkdownV2", map[string]string{"x": "a.b"}, false, `*a\.b*`, "", ""},
		{"100 values", text100, "", values100, false, strings.Repeat("x ", 100), "", ""},
		{"101 values", text101, "", values101, false, "", "values", ""},
		{"bad name", "{{x}}", "", map[string]string{"x": "1", "": "2"}, false, "", "values", ""},
		{"long name", "{{x}}", "", map[string]string{"x": "1", strings.Repeat("n", 65): "2"}, false, "", "values", ""},
		{"value of 4096 bytes", "{{x}}", "", map[string]string{"x": strings.Repeat("v", 4096)}, false, strings.Repeat("v", 4096), "", ""},
		{"value of 4097 bytes", "{{x}}", "", map[string]string{"x": strings.Repeat("v", 4097)}, false, "", "values[x]", ""},
		{"value not UTF-8", "{{x}}", "", map[string]string{"x": "\xff"}, false, "", "values[x]", ""},
		{"expanded over 64 KiB", strings.Repeat("{{x}}", 17), "", map[string]string{"x": strings.Repeat("v", 4096)}, false, "", "text", ""},
		{"expanded over one message with reject", "{{x}}{{x}}", "", map[string]string{"x": strings.Repeat("v", 4000)}, true, "", "text", ""},
		{"expanded blank", "{{x}}", "", map[string]string{"x": " "}, false, "", "text", ""},
		{"unused", "hi", "", map[string]string{"x": "1"}, false, "", "", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := expandValues(tt.text, tt.pm, tt.values, tt.reject)
			var (
				inv *InvalidArgumentError
				ph  *delivery.PlaceholderError
			)
			switch {
			case tt.field != "":
				if !errors.As(err, &inv) || inv.Field != tt.field {
					t.Fatalf("err = %v, want an invalid %s", err, tt.field)
				}
			case tt.placeholder != "":
				if !errors.As(err, &ph) || ph.Name != tt.placeholder {
					t.Fatalf("err = %v, want a PlaceholderError naming %s", err, tt.placeholder)
				}
			case err != nil || got != tt.want:
				t.Fatalf("expandValues = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
