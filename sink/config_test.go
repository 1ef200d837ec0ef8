package sink_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trustpipe/trustpipe/sink"
	"github.com/trustpipe/trustpipe/sink/sinktest"
)

func TestConfigValidate(t *testing.T) {
	if err := sink.DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, c := range []struct {
		edit  func(*sink.Config)
		want  error
		value string
	}{
		{func(c *sink.Config) { c.Addr = "" }, sink.ErrAddr, `got ""`},
		{func(c *sink.Config) { c.Addr = "localhost" }, sink.ErrAddr, `got "localhost"`},
		{func(c *sink.Config) { c.Addr = ":9000" }, sink.ErrAddr, `got ":9000"`},
		{func(c *sink.Config) { c.Database = "trust-pipe" }, sink.ErrDatabase, `got "trust-pipe"`},
		{func(c *sink.Config) { c.Database = "1st" }, sink.ErrDatabase, `got "1st"`},
	} {
		cfg := sink.DefaultConfig()
		c.edit(&cfg)
		err := cfg.Validate()
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.value) {
			t.Errorf("%+v: err = %v, want %v naming %s", cfg, err, c.want, c.value)
		}
	}
}

// A refused password and a dead address are told apart: the first wraps
// ErrAuthentication (check the credentials), the second ErrUnreachable
// (check the address).
func TestPingTellsCredentialsFromAddress(t *testing.T) {
	addr := sinktest.Addr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, c := range []struct {
		name string
		cfg  sink.Config
		want error
	}{
		{"wrong password", sink.Config{Addr: addr, Database: "default", Username: "default", Password: "not-the-password"}, sink.ErrAuthentication},
		{"unknown user", sink.Config{Addr: addr, Database: "default", Username: "nobody_here"}, sink.ErrAuthentication},
		{"nothing listening", sink.Config{Addr: "127.0.0.1:1", Database: "default", DialTimeout: time.Second}, sink.ErrUnreachable},
		{"right credentials", sink.Config{Addr: addr, Database: "default", Username: "default"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, err := sink.Open(ctx, c.cfg, sink.LiveTables())
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			err = st.Ping(ctx)
			if (c.want == nil) != (err == nil) || (c.want != nil && !errors.Is(err, c.want)) {
				t.Fatalf("Ping = %v, want %v", err, c.want)
			}
		})
	}
}
