-- A CentralSquare-like reporting database (PostgreSQL dialect; the test loads this file).
-- Response_Master_Incident: one row per incident, local times without a zone, as the CAD
-- writes them. Response_Comments: several comment rows per incident; the sidecar also
-- writes Assist's notes there (Comment_By = 'ASSIST').
CREATE TABLE Response_Master_Incident (
    ID                     INTEGER PRIMARY KEY,
    Master_Incident_Number VARCHAR(20) NOT NULL UNIQUE,
    Agency_Type            VARCHAR(10) NOT NULL,
    Response_Date          TIMESTAMP NOT NULL,
    Problem                VARCHAR(60),
    Priority_Number        INTEGER,
    Address                VARCHAR(100),
    City                   VARCHAR(40),
    Latitude               NUMERIC(9,6),
    Longitude              NUMERIC(9,6),
    Call_Back_Phone        VARCHAR(30),
    Call_Taker             VARCHAR(20),
    Time_CallClosed        TIMESTAMP,
    Last_Updated           TIMESTAMP NOT NULL
);

CREATE TABLE Response_Comments (
    Comment_ID         SERIAL PRIMARY KEY,
    Master_Incident_ID INTEGER NOT NULL REFERENCES Response_Master_Incident(ID),
    Date_Time          TIMESTAMP NOT NULL,
    Comment_By         VARCHAR(20) NOT NULL,
    Comment            TEXT NOT NULL,
    Critical           BOOLEAN NOT NULL DEFAULT FALSE,
    Assist_Key         VARCHAR(200) UNIQUE -- the note's idempotency key (Assist notes only)
);

-- The view the sidecar reads: one row per incident and comment (group_by folds them), the
-- local times as text so that mapping.timezone applies. The sidecar's own notes are left out.
CREATE VIEW v_assist_incidents AS
SELECT m.Master_Incident_Number, m.Agency_Type,
       to_char(m.Response_Date, 'YYYY-MM-DD HH24:MI:SS') AS Response_Date,
       m.Problem, m.Priority_Number, m.Address, m.City, m.Latitude, m.Longitude,
       m.Call_Back_Phone, m.Call_Taker, m.Time_CallClosed, m.Last_Updated,
       c.Date_Time AS Comment_Time, c.Comment
FROM Response_Master_Incident m
LEFT JOIN Response_Comments c ON c.Master_Incident_ID = m.ID AND c.Comment_By <> 'ASSIST';

-- The login the sidecar uses: it reads the view and adds comments, nothing else.
-- CREATE ROLE assist_reader LOGIN PASSWORD '...';
-- GRANT SELECT ON v_assist_incidents TO assist_reader;
-- GRANT SELECT ON Response_Master_Incident TO assist_reader;   -- for the note statement's lookup
-- GRANT INSERT ON Response_Comments TO assist_reader;
-- GRANT USAGE ON SEQUENCE response_comments_comment_id_seq TO assist_reader;

INSERT INTO Response_Master_Incident VALUES
 (481, '2026-000481', 'FIRE', '2026-03-01 14:05:33', 'MVA-PI MOTOR VEHICLE ACCIDENT W/ INJURIES', 1,
  '1200 N MAIN ST', 'SPRINGFIELD', 39.781720, -89.650150, '+1 (217) 555-0142', 'CT042   ', NULL, '2026-03-01 14:06:10'),
 (482, '2026-000482', 'EMS', '2026-03-01 14:07:02', 'FALL', 2,
  '88 ELM AVE', 'SPRINGFIELD', 39.790010, -89.640220, '217-555-0199', 'CT017', NULL, '2026-03-01 14:07:40'),
 (470, '2026-000470', 'LAW', '2026-03-01 12:00:00', 'NOISE', 3,
  '5 OAK CT', 'SPRINGFIELD', 39.700000, -89.600000, '217-555-0100', 'CT017', '2026-03-01 12:30:00', '2026-03-01 12:30:00');

INSERT INTO Response_Comments (Master_Incident_ID, Date_Time, Comment_By, Comment) VALUES
 (481, '2026-03-01 14:05:50', 'CT042', '2 VEH, 1 ROLLED OVER'),
 (481, '2026-03-01 14:05:58', 'CT042', 'DRIVER TRAPPED'),
 (481, '2026-03-01 14:06:10', 'CT042', 'FUEL LEAKING ONTO THE ROADWAY'),
 (482, '2026-03-01 14:07:40', 'CT017', 'ELDERLY FEMALE, CONSCIOUS');
