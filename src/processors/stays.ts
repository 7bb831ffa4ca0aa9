/** Where a patient is in its stays when a reading is processed: retireSources discharges, registerSources readmits. */
export interface PatientStay {
  /** When the patient was discharged (its source retired); null while admitted. */
  retiredAt: number | null;
  /** When the patient was last readmitted (registered again after a retirement); null if never. */
  admittedAt: number | null;
}

/**
 * Which stay a reading belongs to, by when it arrived: `discharged` (it arrived while the patient was retired: a
 * monitor left on an empty bed), `readmitted` (the first reading of a stay the state has not begun: start afresh
 * from `stay.admittedAt`), or `same`. Readings of unknown arrival (stored before arrivals were) are `same`.
 */
export function stayPhase(stay: PatientStay | undefined, receivedAt: number | null | undefined, begunAt: number | undefined): 'discharged' | 'readmitted' | 'same' {
  if (!stay || receivedAt == null) return 'same';
  if (stay.retiredAt !== null && receivedAt >= stay.retiredAt) return 'discharged';
  if (stay.admittedAt !== null && receivedAt >= stay.admittedAt && begunAt !== stay.admittedAt) return 'readmitted';
  return 'same';
}
