package chdbtest

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdbool.h>
#include <stdlib.h>

typedef void *(*chdb_connect_fn)(int, char **);
typedef void (*chdb_close_conn_fn)(void *);
typedef void *(*chdb_query_fn)(void *, const char *, const char *);
typedef char *(*chdb_result_buffer_fn)(void *);
typedef size_t (*chdb_result_length_fn)(void *);
typedef const char *(*chdb_result_error_fn)(void *);
typedef void (*chdb_destroy_query_result_fn)(void *);
typedef void (*chdb_set_signal_handlers_enabled_fn)(bool);

// The entry points of libchdb.so (chdb.h), resolved once by chdb_load.
static chdb_connect_fn p_connect;
static chdb_close_conn_fn p_close;
static chdb_query_fn p_query;
static chdb_result_buffer_fn p_buffer;
static chdb_result_length_fn p_length;
static chdb_result_error_fn p_error;
static chdb_destroy_query_result_fn p_destroy;

// chdb_load opens the library and resolves the functions; it returns NULL
// or a message. ClickHouse's own crash handlers are switched off first:
// they would replace the Go runtime's signal handlers.
static const char *chdb_load(const char *path) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) return dlerror();
	chdb_set_signal_handlers_enabled_fn sig = (chdb_set_signal_handlers_enabled_fn)dlsym(h, "chdb_set_signal_handlers_enabled");
	if (sig) sig(false);
	p_connect = (chdb_connect_fn)dlsym(h, "chdb_connect");
	p_close = (chdb_close_conn_fn)dlsym(h, "chdb_close_conn");
	p_query = (chdb_query_fn)dlsym(h, "chdb_query");
	p_buffer = (chdb_result_buffer_fn)dlsym(h, "chdb_result_buffer");
	p_length = (chdb_result_length_fn)dlsym(h, "chdb_result_length");
	p_error = (chdb_result_error_fn)dlsym(h, "chdb_result_error");
	p_destroy = (chdb_destroy_query_result_fn)dlsym(h, "chdb_destroy_query_result");
	if (!p_connect || !p_close || !p_query || !p_buffer || !p_length || !p_error || !p_destroy)
		return "libchdb.so lacks one of chdb_connect, chdb_close_conn, chdb_query, chdb_result_buffer, chdb_result_length, chdb_result_error, chdb_destroy_query_result";
	return NULL;
}

// chdb_connect returns a chdb_connection * (a pointer to the connection).
static void *chdb_open(int argc, char **argv) { return p_connect(argc, argv); }
static void chdb_close(void *conn) { p_close(conn); }
static void *chdb_run(void *conn, const char *q, const char *format) { return p_query(*(void **)conn, q, format); }
static char *chdb_buf(void *r) { return p_buffer(r); }
static size_t chdb_len(void *r) { return p_length(r); }
static const char *chdb_err(void *r) { return p_error(r); }
static void chdb_free(void *r) { p_destroy(r); }
*/
import "C"

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// engine is one in-process chDB session. chDB allows one session per
// process, so every Conn of a test binary shares it; the mutex serialises
// queries, which keeps the engine's use simple and its results ordered.
type engine struct {
	mu   sync.Mutex
	conn unsafe.Pointer
}

// openEngine loads libchdb.so from lib and starts a session whose data
// lives under dir.
func openEngine(lib, dir string) (*engine, error) {
	clib := C.CString(lib)
	defer C.free(unsafe.Pointer(clib))
	if msg := C.chdb_load(clib); msg != nil {
		return nil, fmt.Errorf("load %s: %s", lib, C.GoString(msg))
	}
	args := []string{"clickhouse", "--path=" + dir}
	argv := make([]*C.char, len(args))
	for i, a := range args {
		argv[i] = C.CString(a)
		defer C.free(unsafe.Pointer(argv[i]))
	}
	conn := C.chdb_open(C.int(len(args)), &argv[0])
	if conn == nil {
		return nil, fmt.Errorf("chdb_connect --path=%s failed", dir)
	}
	return &engine{conn: conn}, nil
}

// query runs one statement and returns its output in format.
func (e *engine) query(q, format string) ([]byte, error) {
	cq, cf := C.CString(q), C.CString(format)
	defer C.free(unsafe.Pointer(cq))
	defer C.free(unsafe.Pointer(cf))
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn == nil {
		return nil, errors.New("chdb: session closed")
	}
	r := C.chdb_run(e.conn, cq, cf)
	if r == nil {
		return nil, errors.New("chdb: no result")
	}
	defer C.chdb_free(r)
	if msg := C.chdb_err(r); msg != nil {
		return nil, exception(C.GoString(msg))
	}
	return C.GoBytes(unsafe.Pointer(C.chdb_buf(r)), C.int(C.chdb_len(r))), nil
}

func (e *engine) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		C.chdb_close(e.conn)
		e.conn = nil
	}
}

var codeRe = regexp.MustCompile(`^Code: (\d+)\. `)

// exception turns chDB's error text ("Code: 60. DB::Exception: …") into
// the error type clickhouse-go returns, so sink.Retryable and sink.Advice
// judge chDB's errors as they judge a server's.
func exception(msg string) error {
	msg = strings.TrimSpace(msg)
	ex := &clickhouse.Exception{Name: "DB::Exception", Message: msg}
	if m := codeRe.FindStringSubmatch(msg); m != nil {
		code, _ := strconv.ParseInt(m[1], 10, 32)
		ex.Code = int32(code)
	}
	return ex
}
