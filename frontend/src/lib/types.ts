// Shapes of the backend's JSON (camelCase, see docs/dimini-app-spec.md).

export type Role = 'therapist' | 'admin' | 'assistant';

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
}

export interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
}

export const GENDERS = ['male', 'female', 'non_binary', 'prefer_not_to_say', 'other'] as const;
export type Gender = (typeof GENDERS)[number];

export interface Demographics {
  age?: number | null;
  gender?: Gender | null;
  occupation?: string | null;
  referralSource?: string | null;
  initialConcerns?: string[] | null;
}

export interface PatientStats {
  totalSessions: number;
  activeSessions: number;
  lastSessionAt: string | null;
}

export interface Patient {
  id: string;
  name: string;
  email?: string | null;
  phone?: string | null;
  demographics?: Demographics | null;
  createdAt: string;
  updatedAt?: string;
  stats?: PatientStats;
}

export type SessionStatus = 'active' | 'completed' | 'cancelled';

export interface SessionSummary {
  keyTopics?: string[];
  emotionalThemes?: string[];
  insights?: string[];
  recommendations?: string[];
  progressNotes?: string[];
}

export interface TherapySession {
  id: string;
  patientId: string;
  therapistId?: string;
  status: SessionStatus;
  startedAt: string;
  endedAt?: string | null;
  transcript?: string | null;
  summary?: SessionSummary | null;
  endReason?: string | null;
  durationSeconds?: number | null;
}

export interface SummaryResponse {
  sessionId: string;
  status: SessionStatus;
  summary: SessionSummary | null;
}

export interface ToolResult {
  toolCallId: string;
  name: string;
  content: string;
  isError: boolean;
}

export type NodeType = 'topic' | 'emotion' | string;

export interface GraphNode {
  id: string;
  label: string;
  type: NodeType;
  mentionCount?: number;
  weightedDegree?: number;
  pagerank?: number;
  betweenness?: number;
}

export interface GraphLink {
  source: string;
  target: string;
  value?: number;
}

export interface GraphSnapshot {
  nodes: GraphNode[];
  links: GraphLink[];
}

export interface SessionNote {
  id: string;
  content: string;
  category: string;
  importance: string;
  source?: string;
  createdAt?: string;
}

export interface SessionProgress {
  id: string;
  progressType: string;
  description: string;
  evidence?: string | null;
  createdAt?: string;
}

export interface SessionConcern {
  id: string;
  concernType: string;
  severity: string;
  description: string;
  recommendedAction?: string | null;
  createdAt?: string;
}

export interface HumeToken {
  accessToken: string;
  expiresIn: number;
  configId: string | null;
  eviUrl?: string | null;
}

/** One moment a graph entity came up: when, and the words around it. */
export interface NodeMention {
  at: string;
  context: string;
}

export interface NodeMentions {
  nodeId: string;
  mentions: NodeMention[];
}
