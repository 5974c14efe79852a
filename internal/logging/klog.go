package logging

import (
	"sync"

	"github.com/go-logr/logr"
	"go.uber.org/zap"
	"k8s.io/klog/v2"
)

var klogOnce sync.Once

// RouteKlog sends klog's output (tessera logs through klog) to l, at debug
// level for info and at error level for errors, instead of stderr. klog is
// process-wide: the first logger given wins.
func RouteKlog(l *zap.Logger) {
	klogOnce.Do(func() {
		klog.SetLogger(logr.New(&zapSink{l: l.WithOptions(zap.AddCallerSkip(3))}))
	})
}

// zapSink is a logr.LogSink on zap.
type zapSink struct {
	l *zap.Logger
}

func (s *zapSink) Init(logr.RuntimeInfo) {}

func (s *zapSink) Enabled(level int) bool { return s.l.Core().Enabled(zap.DebugLevel) }

func (s *zapSink) Info(_ int, msg string, kv ...any) { s.l.Sugar().Debugw(msg, kv...) }

func (s *zapSink) Error(err error, msg string, kv ...any) {
	s.l.Sugar().Errorw(msg, append(kv, "error", err)...)
}

func (s *zapSink) WithValues(kv ...any) logr.LogSink {
	return &zapSink{l: s.l.Sugar().With(kv...).Desugar()}
}

func (s *zapSink) WithName(name string) logr.LogSink { return &zapSink{l: s.l.Named(name)} }
