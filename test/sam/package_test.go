package sam

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/xray-tracer/xray-tracer/internal/functions/pattern"
)

// TestPackage builds every artifact with make package, as sam build would lay
// them out, and checks what Lambda will run: a static linux/arm64 ELF named
// bootstrap, and the collector configs the ADOT layer loads (one per
// TraceExport value that runs the layer), equal to the repository's.
func TestPackage(t *testing.T) {
	root, err := pattern.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "package", "PACKAGE_DIR="+dir)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make package: %v\n%s", err, out)
	}
	wantConfigs := map[string][]byte{}
	for _, file := range collectorConfigs {
		if wantConfigs[file], err = os.ReadFile(filepath.Join(root, file)); err != nil {
			t.Fatal(err)
		}
	}
	for id := range functions {
		t.Run(id, func(t *testing.T) {
			bin := filepath.Join(dir, id, "bootstrap")
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatalf("bootstrap is not an ELF binary: %v", err)
			}
			defer f.Close()
			if f.Machine != elf.EM_AARCH64 || f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
				t.Errorf("bootstrap is %v/%v, want linux arm64", f.OSABI, f.Machine)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Errorf("bootstrap is dynamically linked: provided.al2023 runs it as is, static is safest")
				}
			}
			if f.Section(".symtab") != nil {
				t.Errorf("bootstrap is not stripped")
			}
			st, err := os.Stat(bin)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode()&0o111 == 0 {
				t.Errorf("bootstrap is not executable")
			}
			t.Logf("%s: bootstrap %d bytes", id, st.Size())

			for file, want := range wantConfigs {
				got, err := os.ReadFile(filepath.Join(dir, id, file))
				if err != nil {
					t.Errorf("no %s beside bootstrap, where OPENTELEMETRY_COLLECTOR_CONFIG_URI points: %v", file, err)
					continue
				}
				if !bytes.Equal(got, want) {
					t.Errorf("packaged %s differs from the repository's", file)
				}
			}
		})
	}
}
