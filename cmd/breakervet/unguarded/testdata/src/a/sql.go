package a

import (
	"context"
	"database/sql"

	"github.com/breakerbox/breakerbox/core"
)

type store struct {
	db *sql.DB
	g  *core.Guard
}

func (s *store) unguarded(ctx context.Context) {
	s.db.QueryContext(ctx, "select 1") // want `\(\*sql.DB\).QueryContext runs outside a breakerbox guard`
	s.db.Exec("delete")                // want `\(\*sql.DB\).Exec runs outside`
	tx, _ := s.db.BeginTx(ctx, nil)    // want `\(\*sql.DB\).BeginTx runs outside`
	tx.ExecContext(ctx, "x")           // want `\(\*sql.Tx\).ExecContext runs outside`
	tx.Commit()                        // not a query
	s.db.Ping()                        // not checked
	s.db.SetMaxOpenConns(1)            // not a call to the database
}

func (s *store) guardDo(ctx context.Context) error {
	return s.g.Do(ctx, func(ctx context.Context) error {
		_, err := s.db.ExecContext(ctx, "x")
		return err
	})
}

func (s *store) coreDo(ctx context.Context) (int, error) {
	return core.Do(ctx, s.g, func(ctx context.Context) (int, error) {
		var n int
		err := s.db.QueryRowContext(ctx, "select 1").Scan(&n)
		go func() {
			s.db.Exec("nested in a guarded literal")
		}()
		return n, err
	})
}

func (s *store) methodValue(ctx context.Context) error {
	return s.g.Do(ctx, s.load)
}

// load is passed to Guard.Do by name: its body is guarded.
func (s *store) load(ctx context.Context) error {
	_, err := s.db.QueryContext(ctx, "select 1")
	return err
}

// helper is called from a guard, not passed to it: reported.
func (s *store) helper(ctx context.Context) error {
	_, err := s.db.QueryContext(ctx, "select 1") // want `QueryContext runs outside`
	return err
}

func (s *store) callsHelper(ctx context.Context) error {
	return s.g.Do(ctx, func(ctx context.Context) error { return s.helper(ctx) })
}

func (s *store) permit(ctx context.Context) error {
	s.db.Exec("before Allow") // want `Exec runs outside`
	p, err := s.g.Allow(ctx)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, "x")
	p.Done(err)
	s.db.Exec("after Done") // want `Exec runs outside`
	return err
}

func (s *store) deferredDone(ctx context.Context) (err error) {
	p, err := s.g.Allow(ctx)
	if err != nil {
		return err
	}
	defer func() { p.Done(err) }()
	_, err = s.db.ExecContext(ctx, "x")
	return err
}

func (s *store) deferredDoneCall(ctx context.Context) (err error) {
	p, err := s.g.Allow(ctx)
	if err != nil {
		return err
	}
	defer p.Done(nil)
	_, err = s.db.ExecContext(ctx, "x")
	return err
}

func (s *store) notPassed(ctx context.Context) {
	f := func() { s.db.Exec("a literal not passed to a guard") } // want `Exec runs outside`
	f()
}

func stmt(ctx context.Context, st *sql.Stmt, c *sql.Conn) {
	st.QueryContext(ctx)    // want `\(\*sql.Stmt\).QueryContext runs outside`
	c.ExecContext(ctx, "x") // want `\(\*sql.Conn\).ExecContext runs outside`
}

func (s *store) reported(ctx context.Context) error {
	p, err := s.g.Allow(ctx)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, "x")
	p.Report(0, err)
	return err
}

func (s *store) deferredBeforeAllow(ctx context.Context) error {
	var p core.Permit
	defer p.Done(nil)
	s.db.Exec("a defer before any Allow does not open a span") // want `Exec runs outside`
	p, _ = s.g.Allow(ctx)
	return nil
}
