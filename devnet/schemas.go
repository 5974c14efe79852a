package devnet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/schemas"
)

// RegisterDemoSchema registers the demo's schema document that names
// itself name (schemas/datasets) with the gateway cl talks to, unless its
// registry holds a schema by that name already. The demo's schemas are
// registry content like any agency's: devnet registers them as 'caravan
// schema add' does.
func RegisterDemoSchema(ctx context.Context, cl *api.Client, name string) error {
	if _, err := cl.Schema(ctx, name); err == nil {
		return nil
	} else if !errors.Is(err, api.ErrNotFound) {
		return err
	}
	docs, err := demoSchemas()
	if err != nil {
		return err
	}
	for _, d := range docs {
		if d.name == name {
			_, err = cl.RegisterSchema(ctx, api.SchemaRequest{}, d.data)
			return err
		}
	}
	return fmt.Errorf("no demo schema is named %q", name)
}

// RegisterDemoSchemas registers every demo schema the registry lacks.
func RegisterDemoSchemas(ctx context.Context, cl *api.Client) error {
	docs, err := demoSchemas()
	if err != nil {
		return err
	}
	for _, d := range docs {
		if err := RegisterDemoSchema(ctx, cl, d.name); err != nil {
			return err
		}
	}
	return nil
}

type demoSchema struct {
	name string
	data []byte
}

// demoSchemas are the demo's schema documents and their names, compiled
// once: a scenario publishes hundreds of times, and compiling every
// document for each was half the devnet process's CPU in the hostile
// scenario, beside the gateways it measures.
var demoSchemas = sync.OnceValues(func() ([]demoSchema, error) {
	var out []demoSchema
	for _, d := range schemas.DemoDocuments() {
		s, err := schemas.Compile(d.Data)
		if err != nil {
			return nil, fmt.Errorf("schemas/datasets/%s: %w", d.File, err)
		}
		out = append(out, demoSchema{s.Name, d.Data})
	}
	return out, nil
})

// stepRegisterSchemas registers the demo's schemas at the first org, and
// waits until every gateway's registry holds them and its policies (which
// read their attributes) are in force.
func stepRegisterSchemas(ctx context.Context, e *Env) (string, error) {
	cl, err := api.NewClient(e.Net.Orgs[0].Dir)
	if err != nil {
		return "", err
	}
	start := time.Now()
	if err := RegisterDemoSchemas(ctx, cl); err != nil {
		return "", err
	}
	want := len(schemas.DemoDocuments())
	for _, o := range e.Net.Orgs {
		if err := until(ctx, 20*time.Second, func() (bool, error) {
			ocl, err := api.NewClient(o.Dir)
			if err != nil {
				return false, err
			}
			list, err := ocl.Schemas(ctx)
			if err != nil {
				return false, err
			}
			st, err := o.Status(ctx)
			if err != nil {
				return false, err
			}
			return len(list) >= want && st.Policy.Waiting == "", nil
		}); err != nil {
			return "", fmt.Errorf("%s: the demo's schemas and policies: %w", o.Org, err)
		}
	}
	list, err := cl.Schemas(ctx)
	if err != nil {
		return "", err
	}
	var refs []string
	for _, s := range list {
		refs = append(refs, s.Name+"@"+s.Version)
	}
	e.schemas = len(list)
	return fmt.Sprintf("%s, in every registry and policies in force %v after registering", strings.Join(refs, ", "), time.Since(start).Round(time.Millisecond)), nil
}

// until calls cond until it reports true or fails, or d passes: every 4
// ms in the first half second, every 50 ms after that.
func until(ctx context.Context, d time.Duration, cond func() (bool, error)) error {
	start := time.Now()
	deadline := start.Add(d)
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("not yet")
			}
			return fmt.Errorf("after %v: %w", d, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * pollInterval(start)):
		}
	}
}
