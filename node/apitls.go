package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/api"
	"github.com/caravan-consortium/caravan/api/server"
	"github.com/caravan-consortium/caravan/internal/atomicfile"
	"go.uber.org/zap"
)

// MakeAPICert writes the API listener's self-signed certificate and key
// into dir (ECDSA P-256, for localhost, 127.0.0.1, ::1 and this host's
// name, valid 5 years) unless they exist, and returns the certificate's
// SHA-256 fingerprint, which clients pin.
func MakeAPICert(dir, org string) (string, error) {
	d := DataDir(dir)
	if raw, err := os.ReadFile(d.APICert()); err == nil {
		return fingerprintPEM(raw)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return "", err
	}
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "caravan gateway " + org, Organization: []string{org}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(5, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	if err := atomicfile.Write(d.APIKey(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return "", err
	}
	if err := atomicfile.Write(d.APICert(), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", err
	}
	return Fingerprint(der), nil
}

// APIRoots is a pool that trusts the certificate the API listener of the
// gateway in dir serves when its config names none (MakeAPICert's): what a
// client on the same machine pins.
func APIRoots(dir string) (*x509.CertPool, error) {
	raw, err := os.ReadFile(DataDir(dir).APICert())
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("%s: no PEM certificate", DataDir(dir).APICert())
	}
	return roots, nil
}

// Fingerprint is a certificate's SHA-256, hex pairs joined by colons, as
// browsers and openssl x509 -fingerprint -sha256 show it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

func fingerprintPEM(raw []byte) (string, error) {
	blk, _ := pem.Decode(raw)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return "", errors.New("not a PEM certificate")
	}
	return Fingerprint(blk.Bytes), nil
}

// serveAPI starts the API's TCP listener when the config asks for one:
// TLS with the configured certificate, or the self-signed one (made now if
// this directory predates it), and tokens from DIR/api-tokens.json.
func (n *Node) serveAPI() error {
	c := n.cfg.API
	if c.Listen == "" {
		return nil
	}
	certPath, keyPath := c.TLSCert, c.TLSKey
	if certPath == "" {
		if _, err := MakeAPICert(string(n.dir), n.cfg.Org); err != nil {
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
	st := api.APIStatus{Listen: l.Addr().String(), Fingerprint: Fingerprint(cert.Certificate[0])}
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
