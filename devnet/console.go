package devnet

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/api/server"
)

// consoleToken names the token devnet makes on each gateway for its console.
const consoleToken = "devnet-console"

// Console is one gateway's web console and a token to log in with.
type Console struct {
	Org   string
	URL   string // https://127.0.0.1:PORT/console/
	Token string
}

// OpenConsoles makes a token with every scope on each running gateway
// (replacing devnet's previous one, which is revoked) and checks that the
// gateway's console answers over TLS with it: the pages load behind the
// session cookie, with the certificate caravan init made.
func (nt *Net) OpenConsoles(ctx context.Context) ([]Console, error) {
	var out []Console
	for _, o := range nt.Orgs {
		if !o.Running() {
			continue
		}
		cl, err := api.NewClient(o.Dir)
		if err != nil {
			return nil, err
		}
		st, err := cl.Status(ctx)
		if err != nil {
			return nil, err
		}
		if st.API.Listen == "" {
			return nil, fmt.Errorf("%s: no API listener (api.listen in %s/caravan.yaml)", o.Org, o.Dir)
		}
		tokens := server.OpenTokens(datadir.Dir(o.Dir).APITokens())
		_ = tokens.Revoke(consoleToken) // a previous run's, on the same directory
		secret, _, err := tokens.Create(consoleToken, server.Scopes, 24*time.Hour, time.Now())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.Org, err)
		}
		c := Console{Org: o.Org, URL: "https://" + st.API.Listen + "/console/", Token: secret}
		if err := checkConsole(ctx, o, c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// checkConsole loads the console's overview with the token in the session
// cookie, trusting only the gateway's own certificate.
func checkConsole(ctx context.Context, o *Org, c Console) error {
	roots, err := datadir.APIRoots(o.Dir)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return err
	}
	req.AddCookie(&http.Cookie{Name: server.SessionCookie(req.URL.Host), Value: c.Token})
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s's console: %w", o.Org, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "Partners connected") {
		return fmt.Errorf("%s's console: %s, not the overview", o.Org, resp.Status)
	}
	return nil
}

// stepConsoles opens every gateway's console and prints its address and
// token.
func stepConsoles(ctx context.Context, e *Env) (string, error) {
	cs, err := e.Net.OpenConsoles(ctx)
	if err != nil {
		return "", err
	}
	for _, c := range cs {
		fmt.Fprintf(e.Out, "      %-14s %s  token %s\n", c.Org, c.URL, c.Token)
	}
	return fmt.Sprintf("%d consoles answer over TLS (self-signed certificates: the browser asks once per gateway); they stop with the demo: 'make console' keeps them running", len(cs)), nil
}

// stepServe waits until the run is interrupted (Ctrl-C).
func stepServe(ctx context.Context, e *Env) (string, error) {
	fmt.Fprintln(e.Out, "      the consortium runs until Ctrl-C")
	<-ctx.Done()
	return "interrupted", nil
}

func consoleScenario() Scenario {
	return Scenario{
		Name:        "console",
		Description: "a consortium with data to browse: each gateway's console address and token, until Ctrl-C (make console)",
		Steps: []Step{
			{"start every gateway as its own OS process", stepStart},
			{"the gateways form a full mesh", stepMesh},
			{"customs-cn registers the demo's four dataset schemas; every gateway holds them and puts its policies in force", stepRegisterSchemas},
			{"customs-cn publishes a generated dataset of customs declarations", stepPublish},
			{"the other gateways list it", stepOthersList},
			{"partners fetch the declarations: each receives what customs-cn's policy allows, verified", stepFetch},
			{"every gateway serves its console: an address and a token each", stepConsoles},
			{"serve until Ctrl-C", stepServe},
			{"a clean shutdown leaves nothing running", stepShutdown},
		},
	}
}
