// The backend's JSON shapes under the names the code uses. Generated from the backend's OpenAPI
// and Socket.IO event models (src/lib/generated/, `python hack/api_types.py generate`); only the
// aliases and a few widenings (noted) live here.
import type { components as Rest } from './generated/openapi';
import type { components as Events } from './generated/socket-events';

type Schemas = Rest['schemas'];
type EventSchemas = Events['schemas'];
/** `T` with the keys `K` optional: for objects the client builds from partial updates. */
type Loose<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

export type Role = Schemas['UserRole'];
export type User = Schemas['UserOut'];

/** The backend's `Page[T]` (generated once per item type) for any item type. */
export type Page<T> = Omit<Schemas['Page_SessionOut_'], 'items'> & { items: T[] };

export type Gender = Schemas['Gender'];
export const GENDERS = ['male', 'female', 'non_binary', 'prefer_not_to_say', 'other'] as const satisfies readonly Gender[];
// Fails to compile when the backend adds a gender this list lacks.
const _everyGender: Gender extends (typeof GENDERS)[number] ? true : never = true;
void _everyGender;

export type Demographics = Schemas['Demographics'];
export type PatientStats = Schemas['PatientStats'];
/** A patient from a list (no stats) or from its own page (with stats). */
export type Patient = Schemas['PatientOut'] & { stats?: PatientStats };

export type SessionStatus = Schemas['SessionStatus'];
export type SessionSummary = Schemas['SessionSummary'];
/** A session from a list (`SessionOut`) or from its own route (`SessionDetail`, with transcript and summary). */
export type TherapySession = Schemas['SessionOut'] & Partial<Pick<Schemas['SessionDetail'], 'transcript' | 'summary'>>;
export type SummaryResponse = Schemas['SummaryOut'];
export type ToolResult = Schemas['ToolResultOut'];

// Widened (as before generation): a node type a newer backend adds still renders.
export type NodeType = Schemas['NodeType'] | (string & {});
// Widened: the live graph store builds nodes and links from partial Socket.IO updates.
export type GraphNode = Omit<
  Loose<Schemas['GraphNodeOut'], 'mentionCount' | 'weightedDegree' | 'pagerank' | 'betweenness'>,
  'type'
> & { type: NodeType };
export type GraphLink = Loose<Schemas['GraphLinkOut'], 'value'>;
export interface GraphSnapshot {
  nodes: GraphNode[];
  links: GraphLink[];
}

export type SessionNote = Schemas['NoteOut'];
export type SessionProgress = Schemas['ProgressOut'];
export type SessionConcern = Schemas['ConcernOut'];
export type HumeToken = Schemas['HumeTokenOut'];

// Session records (transcript, progress notes, history, search).
export type Speaker = Schemas['Speaker'];
export type TranscriptLine = Schemas['TranscriptIn'];
export type TranscriptEntry = Schemas['TranscriptEntryOut'];
export type Transcript = Schemas['TranscriptOut'];
export type NoteFormat = Schemas['NoteFormat'];
export type NoteSection = Schemas['NoteSectionOut'];
export type ClinicalNoteDraft = Schemas['ClinicalNoteDraftOut'];
export type ClinicalNote = Schemas['ClinicalNoteOut'];
export type ClinicalNoteInput = Schemas['ClinicalNoteIn'];
export type PatientHistory = Schemas['PatientHistoryOut'];
export type HistorySession = Schemas['HistorySessionOut'];
export type TrendSeries = Schemas['TrendSeriesOut'];
export type SearchResults = Schemas['SearchOut'];
export type SearchHit = Schemas['SearchHitOut'];

/** Every Socket.IO event the server emits: name -> payload (backend app/schemas/events.py). */
export type ServerEventPayloads = EventSchemas['ServerToClientEvents'];
export type ServerToClientEvents = {
  [E in keyof ServerEventPayloads]: (payload: ServerEventPayloads[E]) => void;
};
export type TranscriptEntryEvent = ServerEventPayloads['transcript_entry'];
type ClientEventPayloads = EventSchemas['ClientToServerEvents'];
export type ClientToServerEvents = {
  [E in keyof ClientEventPayloads]: (payload: ClientEventPayloads[E]) => void;
};

/** One moment a graph entity came up: when, and the words around it. */
export interface NodeMention {
  at: string;
  context: string;
}

export interface NodeMentions {
  nodeId: string;
  mentions: NodeMention[];
}
