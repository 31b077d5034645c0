/** What a "Choose…" button of the renderer asks the system's file picker for. */
export type PickPurpose = 'import-folder' | 'import-file' | 'labels-file' | 'export-folder';

/** The subset of Electron's OpenDialogOptions the pickers use (kept here so this stays testable without Electron). */
export interface PickerOptions {
  title: string;
  properties: ('openFile' | 'openDirectory' | 'createDirectory')[];
  filters?: { name: string; extensions: string[] }[];
}

/** The system picker's title, kind (file or folder) and file filters for each purpose. */
export function pickerOptions(purpose: PickPurpose): PickerOptions {
  switch (purpose) {
    case 'import-file':
      return {
        title: 'Choose a data file to import',
        properties: ['openFile'],
        filters: [{ name: 'Image data', extensions: ['zip', 'npz', 'idx3-ubyte', 'ubyte'] }],
      };
    case 'labels-file':
      return {
        title: 'Choose the CSV that gives each file its class',
        properties: ['openFile'],
        filters: [
          { name: 'CSV', extensions: ['csv', 'tsv', 'txt'] },
          { name: 'All files', extensions: ['*'] },
        ],
      };
    case 'import-folder':
      return { title: 'Choose a folder of images', properties: ['openDirectory'] };
    case 'export-folder':
      return {
        title: 'Choose where to export',
        properties: ['openDirectory', 'createDirectory'],
      };
  }
}
