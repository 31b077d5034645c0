/** Budget presets by how sensitive the images are; the analyst can always adjust. */
export const SENSITIVITY_PRESETS = [
  {
    id: 'very-sensitive',
    label: 'Very sensitive',
    epsilon: 1,
    hint: 'Rare conditions, small cohorts, data that could identify a patient on its own.',
  },
  {
    id: 'sensitive',
    label: 'Sensitive',
    epsilon: 3,
    hint: 'Typical clinical images shared outside the care team.',
  },
  {
    id: 'standard',
    label: 'Standard',
    epsilon: 10,
    hint: 'De-identified images for broad research use.',
  },
] as const;
