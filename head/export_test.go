package head

// SetFault makes every file operation of h's changes call fault with its
// name first; an error fault returns is that operation's, which then does
// not run.
func SetFault(h *Head, fault func(op string) error) { h.fault = fault }

// SetPolling makes Watch on h read HEAD every Config.Poll even where it
// could be told of changes.
func SetPolling(h *Head) { h.poll = true }
