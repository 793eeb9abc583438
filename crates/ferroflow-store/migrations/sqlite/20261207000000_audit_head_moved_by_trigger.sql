-- The SQLite audit chain's head, moved by the INSERT that extends the chain.
--
-- Every write transaction on SQLite chains its events at once (see audit_events_keyed_by_seq). It
-- used to read audit_head, insert the events and update audit_head: three statements, each a round
-- trip to SQLite's connection thread, in a transaction that logging a metric needs only a few for.
-- The server now keeps the head it last wrote in memory and inserts the events directly; this
-- trigger checks each new event against the stored head and moves the head on, so the chain stays
-- linear whatever another process (a second server on the same file, a CLI command) appended in
-- between. An event that does not follow the stored head is refused with the message below, and
-- the server then reads the head and chains its events again.
CREATE TRIGGER audit_events_extend_head BEFORE INSERT ON audit_events
WHEN NEW.seq IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'audit chain head moved')
    WHERE NOT EXISTS (SELECT 1 FROM audit_head WHERE id = 1 AND seq = NEW.seq - 1 AND hash IS NEW.prev_hash);
    UPDATE audit_head SET seq = NEW.seq, hash = NEW.hash WHERE id = 1;
END;
