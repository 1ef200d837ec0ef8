package chdbtest

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	chproto "github.com/ClickHouse/ch-go/proto"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// Conn is a clickhouse-go driver.Conn over the in-process chDB engine, so
// sink.Store, the read-back and the tests run unchanged on it. It
// implements what they use — Exec, Query, QueryRow, PrepareBatch, Ping,
// ServerVersion — with clickhouse-go's own column codecs: results travel
// in ClickHouse's Native format and are decoded (and scanned) exactly as the
// driver decodes a server's blocks; batches are encoded as Native and
// inserted FROM INFILE. Query arguments are bound client-side (bind.go).
// Any other method panics (the embedded nil interface).
type Conn struct {
	driver.Conn
	e       *engine
	dir     string // scratch directory for INSERT … FROM INFILE
	sc      *column.ServerContext
	version string
}

var _ driver.Conn = (*Conn)(nil)

func newConn(e *engine, dir string) (*Conn, error) {
	c := &Conn{e: e, dir: dir, sc: &column.ServerContext{Timezone: time.UTC}}
	var tz string
	if err := c.QueryRow(context.Background(), "SELECT version(), timezone()").Scan(&c.version, &tz); err != nil {
		return nil, fmt.Errorf("chdb: read version: %w", err)
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, fmt.Errorf("chdb: time zone %q: %w", tz, err)
	}
	c.sc.Timezone = loc
	return c, nil
}

// Version is the engine's full version, e.g. "26.7.2.1".
func (c *Conn) Version() string { return c.version }

// ServerVersion reports the engine's version like a server's handshake.
func (c *Conn) ServerVersion() (*driver.ServerVersion, error) {
	return &driver.ServerVersion{Name: "ClickHouse (chDB)", DisplayName: "chDB", Version: proto.ParseVersion(c.version), Timezone: c.sc.Timezone}, nil
}

// Ping runs SELECT 1.
func (c *Conn) Ping(ctx context.Context) error { return c.Exec(ctx, "SELECT 1") }

// Close does nothing: the session is shared by the test binary and ends
// with it (see Run).
func (c *Conn) Close() error { return nil }

// Exec runs a statement and discards its output.
func (c *Conn) Exec(ctx context.Context, query string, args ...any) error {
	_, err := c.run(ctx, query, args)
	return err
}

func (c *Conn) run(ctx context.Context, query string, args []any) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q, err := bind(query, args)
	if err != nil {
		return nil, err
	}
	return c.e.query(q, "Native")
}

// Query runs a query and returns its rows, decoded from Native blocks.
func (c *Conn) Query(ctx context.Context, query string, args ...any) (driver.Rows, error) {
	out, err := c.run(ctx, query, args)
	if err != nil {
		return nil, err
	}
	r := chproto.NewReader(bytes.NewReader(out))
	res := &rows{row: -1}
	for {
		b := &proto.Block{ServerContext: c.sc}
		err := b.Decode(r, 0)
		// The output ends where the next block would start; Decode sets
		// Columns only once it has read a block header, so an end inside
		// a block is still an error.
		if errors.Is(err, io.EOF) && b.Columns == nil {
			return res, nil
		}
		if err != nil {
			return nil, fmt.Errorf("chdb: decode result of %s: %w", firstLine(query), err)
		}
		res.blocks = append(res.blocks, b)
	}
}

// QueryRow runs a query and returns its first row.
func (c *Conn) QueryRow(ctx context.Context, query string, args ...any) driver.Row {
	rs, err := c.Query(ctx, query, args...)
	if err != nil {
		return &row{err: err}
	}
	return &row{rows: rs.(*rows)}
}

var insertRe = regexp.MustCompile(`(?is)^\s*INSERT\s+INTO\s+([\w.]+)\s*\(([^)]*)\)\s*$`)

// PrepareBatch accepts the statements sink writes: INSERT INTO t (columns).
func (c *Conn) PrepareBatch(ctx context.Context, query string, _ ...driver.PrepareBatchOption) (driver.Batch, error) {
	m := insertRe.FindStringSubmatch(query)
	if m == nil {
		return nil, fmt.Errorf("chdb: PrepareBatch supports INSERT INTO table (columns) only, not %q", query)
	}
	table, names := m[1], strings.Split(m[2], ",")
	db, tbl, ok := strings.Cut(table, ".")
	if !ok {
		return nil, fmt.Errorf("chdb: PrepareBatch: name the database of %s", table)
	}
	types := map[string]string{}
	rs, err := c.Query(ctx, "SELECT name, type FROM system.columns WHERE database = ? AND table = ?", db, tbl)
	if err != nil {
		return nil, fmt.Errorf("chdb: columns of %s: %w", table, err)
	}
	for rs.Next() {
		var n, t string
		if err := rs.Scan(&n, &t); err != nil {
			return nil, err
		}
		types[n] = t
	}
	b := &batch{c: c, insert: query, block: &proto.Block{ServerContext: c.sc}}
	for _, n := range names {
		n = strings.TrimSpace(n)
		t, ok := types[n]
		if !ok {
			return nil, fmt.Errorf("chdb: table %s has no column %s", table, n)
		}
		if err := b.block.AddColumn(n, column.Type(t)); err != nil {
			return nil, fmt.Errorf("chdb: column %s %s: %w", n, t, err)
		}
	}
	return b, nil
}

// batch buffers rows in one Native block.
type batch struct {
	c      *Conn
	insert string
	block  *proto.Block
	sent   bool
}

var fileSeq atomic.Uint64

func (b *batch) Append(v ...any) error { return b.block.Append(v...) }

func (b *batch) AppendStruct(any) error { return errors.New("chdb: AppendStruct is not supported") }

func (b *batch) Column(i int) driver.BatchColumn { return batchColumn{b.block.Columns[i]} }

// Flush inserts the buffered rows: the block, Native-encoded, is written
// to a scratch file and inserted with INSERT … FROM INFILE.
func (b *batch) Flush() error {
	if b.block.Rows() == 0 {
		return nil
	}
	var buf chproto.Buffer
	if err := b.block.Encode(&buf, 0); err != nil {
		return fmt.Errorf("chdb: encode block: %w", err)
	}
	path := filepath.Join(b.c.dir, fmt.Sprintf("insert-%d.native", fileSeq.Add(1)))
	if err := os.WriteFile(path, buf.Buf, 0o600); err != nil {
		return fmt.Errorf("chdb: %w", err)
	}
	defer os.Remove(path)
	if _, err := b.c.e.query(fmt.Sprintf("%s FROM INFILE '%s' FORMAT Native", b.insert, path), "Native"); err != nil {
		return err
	}
	for _, col := range b.block.Columns {
		col.Reset()
	}
	return nil
}

func (b *batch) Send() error {
	if b.sent {
		return errors.New("chdb: batch already sent")
	}
	b.sent = true
	return b.Flush()
}

func (b *batch) Abort() error                { b.sent = true; return nil }
func (b *batch) Close() error                { b.sent = true; return nil }
func (b *batch) IsSent() bool                { return b.sent }
func (b *batch) Rows() int                   { return b.block.Rows() }
func (b *batch) Columns() []column.Interface { return b.block.Columns }

type batchColumn struct{ col column.Interface }

func (c batchColumn) Append(v any) error {
	_, err := c.col.Append(v)
	return err
}

func (c batchColumn) AppendRow(v any) error { return c.col.AppendRow(v) }

// rows iterates over the decoded blocks.
type rows struct {
	blocks []*proto.Block
	block  int
	row    int
}

func (r *rows) Next() bool {
	r.row++
	for r.block < len(r.blocks) && r.row >= r.blocks[r.block].Rows() {
		r.block++
		r.row = 0
	}
	return r.block < len(r.blocks)
}

func (r *rows) Scan(dest ...any) error {
	if r.row < 0 || r.block >= len(r.blocks) {
		return errors.New("chdb: Scan called without a successful Next")
	}
	b := r.blocks[r.block]
	if len(dest) != len(b.Columns) {
		return fmt.Errorf("chdb: expected %d destination arguments in Scan, not %d", len(b.Columns), len(dest))
	}
	for i, d := range dest {
		if err := b.Columns[i].ScanRow(d, r.row); err != nil {
			return fmt.Errorf("chdb: scan column %s: %w", b.Columns[i].Name(), err)
		}
	}
	return nil
}

func (r *rows) ScanStruct(any) error { return errors.New("chdb: ScanStruct is not supported") }
func (r *rows) Totals(...any) error  { return errors.New("chdb: Totals is not supported") }
func (r *rows) Close() error         { return nil }
func (r *rows) Err() error           { return nil }
func (r *rows) HasData() bool        { return len(r.blocks) > 0 }
func (r *rows) header() []column.Interface {
	if len(r.blocks) == 0 {
		return nil
	}
	return r.blocks[0].Columns
}

func (r *rows) Columns() []string {
	var out []string
	for _, c := range r.header() {
		out = append(out, c.Name())
	}
	return out
}

func (r *rows) ColumnTypes() []driver.ColumnType {
	var out []driver.ColumnType
	for _, c := range r.header() {
		out = append(out, columnType{c})
	}
	return out
}

type columnType struct{ c column.Interface }

func (t columnType) Name() string             { return t.c.Name() }
func (t columnType) Nullable() bool           { return strings.HasPrefix(string(t.c.Type()), "Nullable(") }
func (t columnType) ScanType() reflect.Type   { return t.c.ScanType() }
func (t columnType) DatabaseTypeName() string { return string(t.c.Type()) }

// row is QueryRow's result: the first row, sql.ErrNoRows when there is none.
type row struct {
	rows *rows
	err  error
}

func (r *row) Err() error { return r.err }

func (r *row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if !r.rows.Next() {
		return sql.ErrNoRows
	}
	return r.rows.Scan(dest...)
}

func (r *row) ScanStruct(any) error { return errors.New("chdb: ScanStruct is not supported") }

func firstLine(q string) string {
	q = strings.TrimSpace(q)
	if i := strings.IndexByte(q, '\n'); i >= 0 {
		return q[:i] + " …"
	}
	return q
}
