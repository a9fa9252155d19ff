// The integ extension: the language, its grammar and configuration come from
// package.json; this file starts the language server, `integ lsp`, which
// speaks LSP over stdio, and restarts it when `integ.path` changes or on the
// command "integ: Restart the language server".
'use strict';

const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

/** @type {LanguageClient | undefined} */
let client;

/** @param {vscode.ExtensionContext} context */
async function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('integ.restartServer', restart),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('integ.path')) {
        return restart();
      }
      return undefined;
    }),
  );
  await start();
}

async function start() {
  const command = vscode.workspace.getConfiguration('integ').get('path') || 'integ';
  const serverOptions = { command, args: ['lsp'], transport: TransportKind.stdio };
  const clientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'integ' },
      { scheme: 'untitled', language: 'integ' },
    ],
  };
  client = new LanguageClient('integ', 'integ', serverOptions, clientOptions);
  try {
    await client.start();
  } catch (error) {
    client = undefined;
    const choice = await vscode.window.showErrorMessage(
      `Could not start \`${command} lsp\`: ${error instanceof Error ? error.message : error}. ` +
        'Install integ, or set `integ.path` to the integ executable.',
      'Open settings',
    );
    if (choice === 'Open settings') {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'integ.path');
    }
  }
}

async function restart() {
  await stop();
  await start();
}

async function stop() {
  if (client) {
    const running = client;
    client = undefined;
    await running.stop();
  }
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
