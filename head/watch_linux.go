package head

import (
	"context"
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// notify returns a channel that receives a value (at most one pending)
// after each change of the file HEAD in dir, as inotify(7) tells it:
// HEAD renamed into place, written, created or removed. The channel is
// closed when ctx ends or inotify fails; notify returns nil if inotify
// cannot watch dir at all.
func notify(ctx context.Context, dir string) <-chan struct{} {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil
	}
	mask := uint32(unix.IN_MOVED_TO | unix.IN_CLOSE_WRITE | unix.IN_CREATE | unix.IN_DELETE)
	if _, err := unix.InotifyAddWatch(fd, dir, mask); err != nil {
		unix.Close(fd)
		return nil
	}
	// Non-blocking, so the runtime's poller waits for it, and closing it
	// ends a read in progress.
	f := os.NewFile(uintptr(fd), "inotify "+dir)
	stop := context.AfterFunc(ctx, func() { f.Close() })
	wake := make(chan struct{}, 1)
	go func() {
		defer close(wake)
		defer stop()
		defer f.Close()
		buf := make([]byte, 64<<10)
		for {
			n, err := f.Read(buf)
			if err != nil {
				return
			}
			head, gone := headEvents(buf[:n])
			if head {
				select {
				case wake <- struct{}{}:
				default: // one pending wake-up covers this change too
				}
			}
			if gone {
				return
			}
		}
	}()
	return wake
}

// headEvents reads a buffer of inotify events and reports whether one
// concerns HEAD (or events were lost, which may have been about it) and
// whether the watch itself is gone (the directory was removed).
func headEvents(buf []byte) (head, gone bool) {
	for len(buf) >= unix.SizeofInotifyEvent {
		mask := binary.NativeEndian.Uint32(buf[4:8])
		n := int(binary.NativeEndian.Uint32(buf[12:16]))
		end := min(unix.SizeofInotifyEvent+n, len(buf))
		name := buf[unix.SizeofInotifyEvent:end]
		for len(name) > 0 && name[len(name)-1] == 0 {
			name = name[:len(name)-1]
		}
		head = head || string(name) == headFile || mask&unix.IN_Q_OVERFLOW != 0
		gone = gone || mask&unix.IN_IGNORED != 0
		buf = buf[end:]
	}
	return head, gone
}
