// Package dbtest starts throwaway database servers for tests: PostgreSQL and MariaDB from
// their Debian packages, each in a temporary data directory, listening on a free port of
// 127.0.0.1 only. A test package shares one server of each kind (started on first use) and
// gives every test its own database on it:
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		srv := dbtest.Postgres(t)       // skips when the binaries are not installed
//		db := srv.NewDatabase(t)        // a fresh database, dropped with the test
//		...
//	}
//
// A test that stops and restarts a server starts its own with Start(t, kind).
// When the binaries are missing the tests skip, unless CAD_SIDECAR_TEST_REQUIRE_DB is set
// (CI sets it): then they fail.
//
// A program that is not a test (cmd/sidecar-bench) uses the same servers without a
// testing.TB: Missing, StartPostgres / StartMariaDB, CreateDatabase, ExecContext and Close.
// The test helpers are thin wrappers over these.
package dbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql" // the MariaDB server's driver
	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL server's driver
)

// EnvRequire, when set, turns a missing database binary into a test failure.
const EnvRequire = "CAD_SIDECAR_TEST_REQUIRE_DB"

// Kinds of server.
const (
	KindPostgres = "postgres"
	KindMariaDB  = "mysql"
)

// startTimeout bounds a server's start (initdb included).
const startTimeout = 90 * time.Second

// Server is one running (or stopped) throwaway database server.
type Server struct {
	// Kind is KindPostgres or KindMariaDB (also the sql adapter's driver name).
	Kind string
	// Port is the loopback TCP port it listens on.
	Port int

	dir    string // temporary root: data/, sock/, log
	bin    string // the server binary
	args   []string
	user   string // OS user the server runs as ("" = the current one)
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	dbSeq  atomic.Int64
	// external is the DSN of a server this package did not start (SQL Server).
	external string
}

// DriverName is the database/sql driver name for this server (pgx or mysql).
func (s *Server) DriverName() string {
	switch s.Kind {
	case KindPostgres:
		return "pgx"
	case KindSQLServer:
		return "sqlserver"
	}
	return "mysql"
}

// DSN is the connection string for database db ("" = the default database).
func (s *Server) DSN(db string) string {
	if s.external != "" {
		return s.externalDSN(db)
	}
	if s.Kind == KindPostgres {
		if db == "" {
			db = "postgres"
		}
		return fmt.Sprintf("postgres://postgres:test-secret@127.0.0.1:%d/%s?sslmode=disable", s.Port, db)
	}
	return fmt.Sprintf("test:test-secret@tcp(127.0.0.1:%d)/%s?parseTime=true&multiStatements=true", s.Port, db)
}

// Open opens database db with database/sql (closed with the test).
func (s *Server) Open(t testing.TB, db string) *sql.DB {
	t.Helper()
	c, err := sql.Open(s.DriverName(), s.DSN(db))
	if err != nil {
		t.Fatalf("dbtest: open %s: %v", s.Kind, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// NewDatabase creates an empty database for this test and returns its name; it is
// dropped when the test ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, err := s.CreateDatabase(ctx)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.DropDatabase(ctx, name) // best effort: the server goes away with the package
	})
	return name
}

// CreateDatabase creates an empty database with a fresh name and returns the name.
func (s *Server) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbSeq.Add(1))
	admin, err := sql.Open(s.DriverName(), s.DSN(""))
	if err != nil {
		return "", err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s on %s: %w", name, s.Kind, err)
	}
	return name, nil
}

// DropDatabase drops database name (closing its sessions on PostgreSQL).
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	admin, err := sql.Open(s.DriverName(), s.DSN(""))
	if err != nil {
		return err
	}
	defer admin.Close()
	drop := "DROP DATABASE IF EXISTS " + name
	switch s.Kind {
	case KindPostgres:
		drop += " WITH (FORCE)"
	case KindSQLServer:
		drop = mssqlDrop(name)
	}
	_, err = admin.ExecContext(ctx, drop)
	return err
}

// Exec runs SQL statements on database db (one per call for PostgreSQL's extended
// protocol; MariaDB DSNs allow several).
func (s *Server) Exec(t testing.TB, db string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.ExecContext(ctx, db, stmts...); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
}

// ExecContext runs SQL statements on database db, one after the other.
func (s *Server) ExecContext(ctx context.Context, db string, stmts ...string) error {
	c, err := sql.Open(s.DriverName(), s.DSN(db))
	if err != nil {
		return fmt.Errorf("open %s: %w", s.Kind, err)
	}
	defer c.Close()
	for _, q := range stmts {
		if _, err := c.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w\n%s", s.Kind, err, q)
		}
	}
	return nil
}

// Stop stops the server (fast shutdown, then kill) and waits for it to exit. The data
// directory stays, so Start can bring it back.
func (s *Server) Stop() error {
	if s.external != "" {
		return errors.New("dbtest: an external server cannot be stopped")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	sig := syscall.SIGTERM // mariadbd: normal shutdown
	if s.Kind == KindPostgres {
		sig = syscall.SIGINT // postgres: fast shutdown
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
	return nil
}

// Start starts a stopped server again on the same port and data directory, and waits
// until it accepts connections.
func (s *Server) Start() error {
	if s.external != "" {
		return errors.New("dbtest: an external server cannot be started")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	return s.startLocked()
}

func (s *Server) startLocked() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := runAs(cmd, s.user); err != nil {
		logf.Close()
		return err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	if err := s.waitReady(); err != nil {
		_ = cmd.Process.Kill()
		<-exited
		s.cmd = nil
		return fmt.Errorf("%s did not become ready: %w\n%s", s.Kind, err, s.logTail())
	}
	return nil
}

func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return errors.New("the server exited")
		default:
		}
		db, err := sql.Open(s.DriverName(), s.DSN(""))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err = db.PingContext(ctx)
			cancel()
			db.Close()
			if err == nil {
				return nil
			}
		}
		last = err
		time.Sleep(100 * time.Millisecond) // polling for readiness, bounded by deadline
	}
	return fmt.Errorf("not ready after %s: %v", startTimeout, last)
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Close stops the server and removes its directory (for a server from StartPostgres or
// StartMariaDB; the test helpers close theirs).
func (s *Server) Close() {
	if s.external != "" {
		return
	}
	_ = s.Stop()
	_ = os.RemoveAll(s.dir)
}

// StartPostgres starts a throwaway PostgreSQL server outside a test (e.g. for a
// benchmark program): in a new temporary directory, on a free port of 127.0.0.1, as the
// postgres user when run as root. The caller closes it. Missing(KindPostgres) says first
// whether PostgreSQL is installed.
func StartPostgres() (*Server, error) {
	if err := Missing(KindPostgres); err != nil {
		return nil, err
	}
	return startPostgres()
}

// StartMariaDB is StartPostgres for MariaDB.
func StartMariaDB() (*Server, error) {
	if err := Missing(KindMariaDB); err != nil {
		return nil, err
	}
	return startMariaDB()
}

// Main runs the package's tests, then stops the shared servers: call it from TestMain.
func Main(m *testing.M) int {
	code := m.Run()
	sharedMu.Lock()
	defer sharedMu.Unlock()
	for _, s := range shared {
		if s.srv != nil {
			s.srv.Close()
		}
	}
	return code
}

type sharedServer struct {
	once sync.Once
	srv  *Server
	err  error
}

var (
	sharedMu sync.Mutex
	shared   = map[string]*sharedServer{}
)

func getShared(t testing.TB, kind string, start func() (*Server, error)) *Server {
	t.Helper()
	sharedMu.Lock()
	ss, ok := shared[kind]
	if !ok {
		ss = &sharedServer{}
		shared[kind] = ss
	}
	sharedMu.Unlock()
	ss.once.Do(func() { ss.srv, ss.err = start() })
	if ss.err != nil {
		t.Fatalf("dbtest: %v", ss.err)
	}
	return ss.srv
}

// Postgres returns the test package's PostgreSQL server, starting it on first use. It
// skips the test when PostgreSQL is not installed (fails when CAD_SIDECAR_TEST_REQUIRE_DB is set).
func Postgres(t testing.TB) *Server {
	t.Helper()
	requireBinaries(t, KindPostgres)
	return getShared(t, KindPostgres, startPostgres)
}

// MariaDB returns the test package's MariaDB server, starting it on first use (skipping
// as Postgres does).
func MariaDB(t testing.TB) *Server {
	t.Helper()
	requireBinaries(t, KindMariaDB)
	return getShared(t, KindMariaDB, startMariaDB)
}

// Shared returns the package's server of kind (KindPostgres or KindMariaDB).
func Shared(t testing.TB, kind string) *Server {
	t.Helper()
	switch kind {
	case KindPostgres:
		return Postgres(t)
	case KindSQLServer:
		return SQLServer(t)
	}
	return MariaDB(t)
}

// Start starts a server of kind for this test alone (to stop and restart it); it is
// stopped and removed when the test ends.
func Start(t testing.TB, kind string) *Server {
	t.Helper()
	requireBinaries(t, kind)
	start := startMariaDB
	if kind == KindPostgres {
		start = startPostgres
	}
	s, err := start()
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Kinds are the server kinds, for table-driven tests over both.
var Kinds = []string{KindPostgres, KindMariaDB}

func requireBinaries(t testing.TB, kind string) {
	t.Helper()
	if kind != KindPostgres && kind != KindMariaDB {
		t.Fatalf("dbtest: unknown kind %q", kind)
	}
	err := Missing(kind)
	if err == nil {
		return
	}
	if os.Getenv(EnvRequire) != "" {
		t.Fatalf("dbtest: %v and %s is set", err, EnvRequire)
	}
	t.Skipf("SKIP-OK: %v; apt-get install postgresql mariadb-server, or set %s to fail instead", err, EnvRequire)
}

// Missing says why a server of kind cannot be started here (its binaries are not
// installed), or nil when it can.
func Missing(kind string) error {
	var missing string
	switch kind {
	case KindPostgres:
		if _, err := postgresBin(); err != nil {
			missing = err.Error()
		}
	case KindMariaDB:
		for _, b := range []string{"mariadbd", "mariadb-install-db"} {
			if _, err := lookBin(b); err != nil {
				missing = err.Error()
			}
		}
	default:
		return fmt.Errorf("dbtest: unknown kind %q", kind)
	}
	if missing == "" {
		return nil
	}
	return fmt.Errorf("%s not installed (%s)", kind, missing)
}

// postgresBin is the newest /usr/lib/postgresql/N/bin (or the directory of initdb on PATH).
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestV := "", -1
	for _, d := range dirs {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil && v > bestV {
			best, bestV = d, v
		}
	}
	if best != "" {
		return best, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no /usr/lib/postgresql/*/bin/postgres and no initdb on PATH")
}

func lookBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found", name)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// newDir makes the server's temporary root, owned by user.
func newDir(kind, user string) (string, error) {
	base := os.TempDir()
	if user != "" {
		// The server's user must be able to reach the directory: a private TMPDIR (0700,
		// owned by root) would not do.
		if fi, err := os.Stat(base); err != nil || fi.Mode().Perm()&0o001 == 0 {
			base = "/tmp"
		}
	}
	dir, err := os.MkdirTemp(base, "cad-sidecar-"+kind+"-*")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	if err := chownTo(dir, user); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

func run(user, bin string, args ...string) error {
	cmd := exec.Command(bin, args...)
	if err := runAs(cmd, user); err != nil {
		return err
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return nil
}

func startPostgres() (*Server, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	user := serviceUser("postgres")
	dir, err := newDir("pg", user)
	if err != nil {
		return nil, err
	}
	data, sock := filepath.Join(dir, "data"), filepath.Join(dir, "sock")
	if err := run(user, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := mkdirAs(sock, user); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Kind: KindPostgres, Port: port, dir: dir, bin: filepath.Join(bin, "postgres"), user: user,
		args: []string{"-D", data, "-k", sock, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
			"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=200", "-c", "TimeZone=UTC"}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func startMariaDB() (*Server, error) {
	mariadbd, err := lookBin("mariadbd")
	if err != nil {
		return nil, err
	}
	install, err := lookBin("mariadb-install-db")
	if err != nil {
		return nil, err
	}
	user := serviceUser("mysql")
	dir, err := newDir("mariadb", user)
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	// A temporary folder of its own: MariaDB names its temporary tables after the thread,
	// so two servers set up at once in a shared /tmp (parallel test binaries) collide
	// ("Could not remove temporary table '/tmp/#sql-temptable-…'").
	tmp := filepath.Join(dir, "tmp")
	if err := os.Mkdir(tmp, 0o700); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := chownTo(tmp, user); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := run(user, install, "--no-defaults", "--datadir="+data, "--tmpdir="+tmp, "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// The test login is created on every start (the init file is idempotent).
	initFile := filepath.Join(dir, "init.sql")
	if err := os.WriteFile(initFile, []byte("CREATE USER IF NOT EXISTS 'test'@'%' IDENTIFIED BY 'test-secret';\n"+
		"GRANT ALL ON *.* TO 'test'@'%' WITH GRANT OPTION;\n"), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &Server{Kind: KindMariaDB, Port: port, dir: dir, bin: mariadbd, user: user,
		args: []string{"--no-defaults", "--datadir=" + data, "--tmpdir=" + tmp, "--socket=" + filepath.Join(dir, "mariadb.sock"),
			"--pid-file=" + filepath.Join(dir, "mariadb.pid"), "--port=" + strconv.Itoa(port),
			"--bind-address=127.0.0.1", "--skip-name-resolve", "--init-file=" + initFile,
			"--innodb-flush-log-at-trx-commit=0", "--innodb-buffer-pool-size=64M", "--skip-log-bin",
			"--default-time-zone=+00:00", "--max-connections=200"}}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.startLocked(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func mkdirAs(dir, user string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	return chownTo(dir, user)
}
