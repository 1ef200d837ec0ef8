package event

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		change func(*Limits)
		want   error
		value  string
	}{
		{func(l *Limits) { l.MaxBytes = 0 }, ErrMaxBytes, "got 0"},
		{func(l *Limits) { l.MaxDepth = -1 }, ErrMaxDepth, "got -1"},
		{func(l *Limits) { l.MaxSkew = -time.Second }, ErrMaxSkew, "got -1s"},
		{func(l *Limits) { l.MaxAge = 0 }, ErrMaxAge, "got 0s"},
	} {
		l := DefaultLimits()
		c.change(&l)
		err := l.Validate()
		if !errors.Is(err, c.want) || err == nil || !strings.Contains(err.Error(), c.value) {
			t.Errorf("%+v: err = %v, want %v naming %q", l, err, c.want, c.value)
		}
	}
}
