package gateway

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

	"github.com/caravan-consortium/caravan/gateway/datadir"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/api/server"
	"go.uber.org/zap"
)

// Console makes the web console the TCP listener serves under /console/,
// over the gateway's services (console.Handler is one).
type Console func(sv server.Services, tokens *server.Tokens, log *zap.Logger) (http.Handler, error)

// serveAPI starts the API's TCP listener when the config asks for one:
// TLS with the configured certificate, or the self-signed one (made now if
// this directory predates it), and tokens from DIR/api-tokens.json.
func (n *Gateway) serveAPI() error {
	c := n.cfg.API
	if c.Listen == "" {
		return nil
	}
	certPath, keyPath := c.TLSCert, c.TLSKey
	if certPath == "" {
		if _, err := datadir.MakeAPICert(string(n.dir), n.cfg.Org); err != nil {
			return fmt.Errorf("api: the self-signed certificate: %w", err)
		}
		certPath, keyPath = n.dir.APICert(), n.dir.APIKey()
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return fmt.Errorf("api.tls_cert: %w", err)
	}
	l, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("api.listen: %w", err)
	}
	st := api.APIStatus{Listen: l.Addr().String(), Fingerprint: datadir.Fingerprint(cert.Certificate[0])}
	n.apiStatus.Store(&st)
	tokens := server.OpenTokens(n.dir.APITokens())
	var cons http.Handler
	if n.console != nil {
		if cons, err = n.console(n.services, tokens, n.log.Named("console")); err != nil {
			l.Close()
			return fmt.Errorf("console: %w", err)
		}
	}
	n.api.ServeTLS(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}, tokens, cons)
	n.log.Info("API listening", zap.String("addr", st.Listen), zap.String("fingerprint", st.Fingerprint))
	return nil
}
