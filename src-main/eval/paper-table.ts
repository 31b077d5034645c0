/**
 * The published reference figures our evaluation is read against: the
 * downstream accuracies of DP²-VAE's Table 1 on MNIST (Jiang, Zhang, Karami,
 * Chen, Shao and Yu, "DP²-VAE: Differentially Private Pre-trained
 * Variational Autoencoders", arXiv 2208.03409, Table 1; protocol of
 * Appendix B.4: classifiers trained on 60 000 synthetic images, tested on the
 * real MNIST test split, accuracy in %, δ = 1e-5).
 *
 * The one place these numbers live: the app shows them beside a run's own
 * figures and `dp2 eval` prints them beside ours. Only figures we could check
 * are here; a cell the table has but we could not confirm is null rather
 * than guessed. They are published numbers, not ours: a difference of a few
 * points is expected (our classifiers train a fixed small budget on the CPU,
 * the paper's train to convergence on a GPU).
 *
 * Pure data, no imports: safe for the renderer to import too.
 */

/** One published row: a method at one privacy level. */
export interface PaperRow {
  /** The method, as the paper names it. */
  method: string;
  /** The row's ε (δ = 1e-5), or null for the non-private "real data" row. */
  epsilon: number | null;
  /** Downstream accuracies in %, null where not confirmed. */
  lr: number | null;
  mlp: number | null;
  cnn: number | null;
  /** Where the row's figures come from, when not from Table 1 alone. */
  note: string | null;
}

/** A published table of reference rows. */
export interface PaperTable {
  /** Full citation, for display. */
  citation: string;
  /** arXiv identifier of the paper. */
  arxiv: string;
  /** The data set the rows are measured on. */
  dataset: string;
  /** δ of every private row. */
  delta: number;
  rows: PaperRow[];
}

/** DP²-VAE's Table 1 (MNIST), the rows we can cite. */
export const DP2VAE_TABLE1_MNIST: PaperTable = {
  citation:
    'Jiang, Zhang, Karami, Chen, Shao and Yu, “DP²-VAE: Differentially Private Pre-trained Variational Autoencoders”, arXiv 2208.03409, Table 1 (MNIST)',
  arxiv: '2208.03409',
  dataset: 'MNIST',
  delta: 1e-5,
  rows: [
    {
      method: 'DP²-VAE',
      epsilon: 10,
      lr: 78.4,
      mlp: 77.8,
      cnn: 81.2,
      note: null,
    },
    {
      method: 'DP-Sinkhorn',
      epsilon: 10,
      lr: null,
      mlp: null,
      cnn: 83.2,
      note: 'Cao et al. 2021 (arXiv 2111.01177), as compared in DP²-VAE’s Table 1; also quoted as the previous best MNIST accuracy at ε = 10 by Dockhorn et al. 2022 (DPDM).',
    },
  ],
};

/** The reference table for `dataset`, or undefined when we have none for it. */
export function paperTableFor(dataset: string): PaperTable | undefined {
  return dataset.trim().toLowerCase() === 'mnist' ? DP2VAE_TABLE1_MNIST : undefined;
}
