-- The log's epoch: a random id made with the database. A client resuming from a seq names the epoch
-- it read it in; a restored or replaced database has another one, so the client is told to reload
-- instead of being resumed onto events that are not the ones it missed.
ALTER TABLE log_state ADD COLUMN epoch TEXT NOT NULL DEFAULT '';
UPDATE log_state SET epoch = lower(hex(randomblob(8))) WHERE epoch = '';
