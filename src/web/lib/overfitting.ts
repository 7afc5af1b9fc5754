/**
 * The overfitting hint of a job: once validation loss has not improved for `patience` evaluations
 * in a row and the latest one is above the best, name the checkpoint with the lowest validation
 * loss (the one to keep). The classic early-stopping rule, applied after the fact.
 */
export interface Evaluation {
  step: number;
  validLoss: number;
}

export interface CheckpointPoint {
  step: number;
  id: string;
  /** the model id of the checkpoint (`ft:...:ckpt-step-N`) */
  model: string;
  validLoss?: number;
}

export interface OverfittingHint {
  /** the evaluation with the lowest validation loss */
  bestStep: number;
  bestLoss: number;
  latestLoss: number;
  /** evaluations since the best one */
  evaluationsSince: number;
  /** the checkpoint to keep: the lowest validation loss among checkpoints, else the last one at or before the best step */
  checkpoint: CheckpointPoint | null;
}

export function overfittingHint(evaluations: readonly Evaluation[], checkpoints: readonly CheckpointPoint[], patience = 3): OverfittingHint | null {
  const points = evaluations.filter((evaluation) => Number.isFinite(evaluation.validLoss));
  if (points.length <= patience) return null;
  let best = 0;
  for (let index = 1; index < points.length; index++) if ((points[index] as Evaluation).validLoss < (points[best] as Evaluation).validLoss) best = index;
  const since = points.length - 1 - best;
  const latest = points[points.length - 1] as Evaluation;
  const bestPoint = points[best] as Evaluation;
  if (since < patience || !(latest.validLoss > bestPoint.validLoss)) return null;
  const withLoss = checkpoints.filter((checkpoint) => typeof checkpoint.validLoss === "number" && Number.isFinite(checkpoint.validLoss));
  let checkpoint: CheckpointPoint | null;
  if (withLoss.length > 0) {
    checkpoint = withLoss.reduce((lowest, current) => ((current.validLoss as number) < (lowest.validLoss as number) ? current : lowest));
  } else {
    const before = checkpoints.filter((candidate) => candidate.step <= bestPoint.step);
    checkpoint = before.length > 0 ? before.reduce((latestBefore, current) => (current.step > latestBefore.step ? current : latestBefore)) : null;
  }
  return { bestStep: bestPoint.step, bestLoss: bestPoint.validLoss, latestLoss: latest.validLoss, evaluationsSince: since, checkpoint };
}
