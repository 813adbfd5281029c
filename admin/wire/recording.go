package wire

// OpRecordingImport is the audit log's operation for POST /v1/recording;
// Params holds the events and bytes imported.
const OpRecordingImport Op = "recording-import"

// RecordingImportResult answers POST /v1/recording.
type RecordingImportResult struct {
	// Events counts the events imported.
	Events int `json:"events"`
	// AuditSeq is the audit record's sequence number.
	AuditSeq uint64 `json:"auditSeq"`
}
