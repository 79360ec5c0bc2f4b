-- A Hexagon/Intergraph I/CAD-like reporting database (PostgreSQL dialect; the test loads
-- this file). As in I/CAD's reporting copy:
--   common_event  one row per event: where it is, who called (eid is the event id);
--   agency_event  one row per agency working the event: its own event number (num_1),
--                 type, priority, open flag — a fire at an address is one common event with
--                 a fire and a police agency event;
--   evcom         the event's comment lines; the sidecar also writes Assist's notes there
--                 (cpers = 'ASSIST').
-- Times are I/CAD "DTS" strings: local time YYYYMMDDHHMMSS plus the zone's two letters
-- (ES = Eastern Standard, ED = Eastern Daylight). udts is the replication's change time.
CREATE TABLE common_event (
    eid      INTEGER PRIMARY KEY,
    cdts     CHAR(16) NOT NULL,
    estnum   VARCHAR(10),          -- street number
    edirpre  VARCHAR(2),           -- direction prefix (N, SW)
    efeanme  VARCHAR(40),          -- street name
    efeatyp  VARCHAR(4),           -- street type (ST, AVE)
    emun     VARCHAR(30),          -- municipality
    clname   VARCHAR(40),          -- caller's name
    clrnum   VARCHAR(20),          -- caller's number
    udts     TIMESTAMP NOT NULL
);

CREATE TABLE agency_event (
    eid       INTEGER NOT NULL REFERENCES common_event(eid),
    ag_id     VARCHAR(9) NOT NULL,  -- agency: GFD fire, GPD police, GEMS ambulance
    num_1     VARCHAR(12) NOT NULL UNIQUE, -- the agency's event number: the incident id
    tycod     VARCHAR(8),           -- event type
    sub_tycod VARCHAR(8),           -- event subtype
    priority  INTEGER,
    is_open   CHAR(1) NOT NULL,     -- 'T' open, 'F' closed
    dgroup    VARCHAR(5),           -- dispatch group
    ad_ts     CHAR(16) NOT NULL,    -- when the agency event was added (DTS)
    cpers     VARCHAR(10),          -- the call taker who created it
    udts      TIMESTAMP NOT NULL,
    PRIMARY KEY (eid, ag_id)
);

CREATE TABLE evcom (
    comm_id    SERIAL PRIMARY KEY,
    eid        INTEGER NOT NULL REFERENCES common_event(eid),
    lin_num    INTEGER NOT NULL,    -- the line's place in the event's comments
    comm       TEXT NOT NULL,
    cdts       CHAR(16) NOT NULL,
    cpers      VARCHAR(10) NOT NULL,
    critical   BOOLEAN NOT NULL DEFAULT FALSE,
    assist_key VARCHAR(200) UNIQUE  -- the note's idempotency key (Assist notes only)
);

-- The view the sidecar reads: one row per agency event (the incident), joined to its
-- common event, with the CAD's own comment lines in one column (the sidecar's notes are
-- left out, so writing a note does not change the record). last_updated is the later of
-- the two change times: the poll's cursor.
CREATE VIEW v_assist_events AS
SELECT ae.num_1, ae.ag_id, ae.eid, ae.tycod, ae.sub_tycod, ae.priority, ae.is_open, ae.dgroup,
       ae.ad_ts, ae.cpers, ce.estnum, ce.edirpre, ce.efeanme, ce.efeatyp, ce.emun,
       ce.clname, ce.clrnum,
       (SELECT string_agg(c.comm, ' / ' ORDER BY c.lin_num) FROM evcom c
         WHERE c.eid = ae.eid AND c.cpers <> 'ASSIST') AS comments,
       GREATEST(ae.udts, ce.udts) AS last_updated
FROM agency_event ae
JOIN common_event ce ON ce.eid = ae.eid;

-- The login the sidecar uses: it reads the view and adds comment lines, nothing else.
-- CREATE ROLE assist_reader LOGIN PASSWORD '...';
-- GRANT SELECT ON v_assist_events TO assist_reader;
-- GRANT SELECT ON agency_event, evcom TO assist_reader;     -- for the note statement's lookup
-- GRANT INSERT ON evcom TO assist_reader;
-- GRANT USAGE ON SEQUENCE evcom_comm_id_seq TO assist_reader;

INSERT INTO common_event VALUES
 (9000, '20260305081500ES', '5', NULL, 'OAK', 'CRT', 'OTTAWA', 'LEDUC, PAUL', '613-555-0100', '2026-03-05 08:40:00'),
 (9001, '20260305095842ES', '1200', 'N', 'MAIN', 'ST', 'OTTAWA', 'TREMBLAY, MARIE  ', '(613) 555-0147', '2026-03-05 10:00:05'),
 (9002, '20260305100112ES', '88', NULL, 'ELM', 'AVE', 'OTTAWA', NULL, '+1 613 555 0199', '2026-03-05 10:01:40');

INSERT INTO agency_event VALUES
 (9000, 'GFD',  'GFD26000120',  'ALARM', NULL,  3, 'F', 'FD1', '20260305081500ES', 'CT042', '2026-03-05 08:40:00'),
 (9001, 'GFD',  'GFD26000123',  'STRUC', 'RES', 1, 'T', 'FD1', '20260305095842ES', 'CT117 ', '2026-03-05 09:59:30'),
 (9001, 'GPD',  'GPD26000456',  'FIREA', NULL,  2, 'T', 'PD2', '20260305095950ES', 'CT117', '2026-03-05 09:59:50'),
 (9002, 'GEMS', 'GEMS26000789', 'FALL',  'L1',  2, 'T', 'EMS', '20260305100112ES', 'CT017', '2026-03-05 10:01:40');

INSERT INTO evcom (eid, lin_num, comm, cdts, cpers) VALUES
 (9001, 1, 'SMOKE SHOWING 2ND FLOOR', '20260305095901ES', 'CT117'),
 (9001, 2, 'CALLER AND FAMILY OUTSIDE', '20260305095920ES', 'CT117'),
 (9000, 1, 'FALSE ALARM, RESET BY KEYHOLDER', '20260305083000ES', 'CT042');
