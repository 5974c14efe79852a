package datadir

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"strings"
	"time"

	"github.com/caravan-consortium/caravan/internal/atomicfile"
)

// MakeAPICert writes the API listener's self-signed certificate and key
// into dir (ECDSA P-256, for localhost, 127.0.0.1, ::1 and this host's
// name, valid 5 years) unless they exist, and returns the certificate's
// SHA-256 fingerprint, which clients pin.
func MakeAPICert(dir, org string) (string, error) {
	d := Dir(dir)
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
	raw, err := os.ReadFile(Dir(dir).APICert())
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("%s: no PEM certificate", Dir(dir).APICert())
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
